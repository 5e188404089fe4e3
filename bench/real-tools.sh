#!/usr/bin/env bash
# What real programs make the server send, through bitsfs and through the alternatives: for each
# job (a program reading a few parts of a file that is mostly not needed), the body bytes nginx
# sent and the wall time, for
#   - bitsfs (release build, a fresh mount on an empty cache for each job);
#   - the program's own remote reader, where it has one: GDAL /vsicurl/, DuckDB httpfs (loaded
#     from the duckdb-extension-httpfs package's file, autoinstall off), ffmpeg's http protocol;
#   - httpdirfs and rclone mount, configured as in bench/compare.sh (bench/mounts.sh), also on a
#     fresh mount with an empty cache for each job;
# next to the bytes the job reads itself: the return values of its read/pread64/readv/preadv
# calls on the file, counted with strace on the origin file (not timed, not through a mount);
# for the mmap jobs, the bytes of the slices. For bitsfs also its own counters from the
# user.bitsfs.stats attribute (fetched, requests, read-ahead, read-ahead-used).
#
# The jobs: a Cloud-Optimized GeoTIFF (gdalinfo; a 512x512 window with gdal_translate -srcwin);
# a Parquet file (metadata and the sum of one column with pyarrow, the same with DuckDB); a zip of
# hundreds of stored members (unzip -l; one member extracted); a tar of the same members
# (tar tvf); an MP4 with its index (moov) at the end (ffprobe; one frame decoded at the middle);
# a SQLite database (a point query by rowid and one through an index, immutable=1); 50 random
# unaligned 4 KiB slices of a random file through Python mmap, mmap with madvise(MADV_RANDOM)
# and os.pread; `file` on the COG; one 1 MiB dd (bs=128k count=8) in the middle of the random file.
#
# The targets of issue 19 ("read-ahead that is earned"), computed per row: bitsfs's bytes at most
# 1.5x the program's own remote reader where there is one, else at most 4x the bytes the job
# read; the 1 MiB dd at most 4 MiB; the mmap jobs at most 128 KiB per slice on average.
#
# Environment: BIG_MIB (the random file, 256), DATA_MIB (the COG, Parquet file and database are
# about this large, the zip and tar 4/3 of it; 60), REAL_TOOLS_PORT (8097), VENV (the Python
# venv for duckdb and pyarrow, kept between runs; .build/bench-venv in the repository),
# DUCKDB_VERSION (1.5.5: duckdb and duckdb-extension-httpfs must be the same version),
# BITSFS_FLAGS (more bitsfs mount options, e.g. "--block-size 16384"), OTHERS (the other
# mounts compared, "httpdirfs rclone"; empty for bitsfs alone), ONLY (job names, space-separated:
# those jobs alone), KERNEL_RA_KB (if set, the
# kernel's read-ahead for the bitsfs mount in KiB instead of the one bitsfs sets: a diagnosis),
# RESULTS (bench/RESULTS.md: the section "# Real tools" is replaced or appended; "-" writes
# nothing), KEEP (a directory to copy nginx's log and the raw figures into).
# Installs what it needs with apt and pip. Needs root (FUSE mounts). About a minute on 2 cores
# once installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
script_start=$(date +%s)
say() { echo "real-tools: $*" >&2; }

# --- Installing ------------------------------------------------------------------------------
# One apt run for all; if it fails, one package at a time, so that only what cannot be
# installed is left out (and its column or jobs with it).
apt_packages=(gdal-bin ffmpeg sqlite3 zip unzip file python3-venv httpdirfs rclone strace attr)
if ! "$here/../scripts/setup.sh" "${apt_packages[@]}" >&2; then
  for package in "${apt_packages[@]}"; do
    "$here/../scripts/setup.sh" "$package" >&2 || say "apt could not install $package: left out"
  done
fi
have() { command -v "$1" >/dev/null 2>&1; }

BIG_MIB=${BIG_MIB:-256}
DATA_MIB=${DATA_MIB:-60}
SIZE_MIB=$BIG_MIB                 # common.sh writes big.bin of SIZE_MIB
PORT=${REAL_TOOLS_PORT:-8097}     # not compare.sh's PORT: it may run this while its nginx runs
BENCH_WWW=$(mktemp -d /dev/shm/bitsfs-real-www.XXXXXX)  # origin files in tmpfs
trap 'rm -rf "$BENCH_WWW"' EXIT  # until common.sh's cleanup takes over
source "$here/common.sh"  # cd to the repository; BITSFS, WORK, WWW, BASE, big.bin, seconds, ...
LOG=$WORK/nginx/access.log
RAW=$WORK/raw.tsv
RESULTS=${RESULTS:-bench/RESULTS.md}
declare -A PID=()
MOUNT_FILES=(cog.tif data.parquet data.zip data.tar video.mp4 db.sqlite big.bin)
source "$here/mounts.sh"  # start_mount, stop_mount, fresh, log_mark, log_bytes_since, ...
TOOLS=(bitsfs)
for tool in ${OTHERS-httpdirfs rclone}; do
  if have "$tool"; then TOOLS+=("$tool"); else say "$tool is not installed: its column is left out"; fi
done

trap cleanup_mounts EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Python with duckdb, its httpfs extension and pyarrow, from PyPI. duckdb-extension-httpfs has
# no release for every duckdb version: both are pinned to one that has both.
VENV=${VENV:-$PWD/.build/bench-venv}
DUCKDB_VERSION=${DUCKDB_VERSION:-1.5.5}
PY=$VENV/bin/python
[ -x "$PY" ] || python3 -m venv "$VENV" >&2 || say "could not create a venv in $VENV"
if [ -x "$PY" ]; then
  "$PY" -c 'import pyarrow' 2>/dev/null || "$VENV/bin/pip" install -q pyarrow >&2 ||
    say "pip could not install pyarrow: the pyarrow jobs are left out"
  "$PY" -c "import duckdb, duckdb_extension_httpfs; assert duckdb.__version__ == '$DUCKDB_VERSION'" 2>/dev/null ||
    "$VENV/bin/pip" install -q "duckdb==$DUCKDB_VERSION" "duckdb-extension-httpfs==$DUCKDB_VERSION" >&2 ||
    say "pip could not install duckdb and duckdb-extension-httpfs $DUCKDB_VERSION: the DuckDB jobs are left out"
fi
have_py() { [ -x "$PY" ] && "$PY" -c "import $1" 2>/dev/null; }

# --- Helpers in Python -----------------------------------------------------------------------
cat > "$WORK/jobs.py" <<'PY'
"""Python jobs: python jobs.py JOB TARGET (a path, or for the duckdb jobs also an http URL)."""
import glob, mmap, os, random, sys
job, target = sys.argv[1], sys.argv[2]

def offsets(size):
    """The 50 unaligned 4 KiB slices, the same for every tool."""
    rng = random.Random(1234)
    return [rng.randrange(size - 4096) for _ in range(50)]

if job.startswith("pq-"):
    import pyarrow.compute as pc, pyarrow.parquet as pq
    f = pq.ParquetFile(target)  # pre_buffer off: column chunks are read as asked
    if job == "pq-meta-pyarrow":
        m = f.metadata
        print(m.num_rows, m.num_row_groups, m.num_columns)
    else:
        print(pc.sum(f.read(columns=["v"]).column("v")).as_py())
elif job.startswith("duck-"):
    import duckdb, duckdb_extension_httpfs
    con = duckdb.connect(config={"autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False, "threads": 2})
    if target.startswith("http"):
        ext = glob.glob(os.path.join(os.path.dirname(duckdb_extension_httpfs.__file__),
                                     "extensions", "*", "httpfs.duckdb_extension"))[0]
        con.execute("LOAD '%s'" % ext)
    if job == "duck-meta":
        print(con.execute("SELECT count(*), max(row_group_id) FROM parquet_metadata(?)", [target]).fetchall())
    else:
        print(con.execute("SELECT sum(v) FROM read_parquet(?)", [target]).fetchall())
elif job in ("mmap", "mmap-random", "pread"):
    fd = os.open(target, os.O_RDONLY)
    size = os.fstat(fd).st_size
    total = 0
    if job == "pread":
        for offset in offsets(size):
            total += len(os.pread(fd, 4096, offset))
    else:
        m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
        if job == "mmap-random":
            m.madvise(mmap.MADV_RANDOM)
        for offset in offsets(size):
            total += len(m[offset:offset + 4096])
    print(total)
else:
    sys.exit("unknown job " + job)
PY

# strace -y output on stdin: the bytes returned by read calls on the file named.
cat > "$WORK/strace_bytes.py" <<'PY'
import re, sys
path = sys.argv[1]
call = re.compile(r"^(\d+)\s+(read|pread64|readv|preadv|preadv2)\((\d+)<([^>]*)>")
resumed = re.compile(r"^(\d+)\s+<\.\.\. (read|pread64|readv|preadv|preadv2) resumed>")
result = re.compile(r"\)\s+=\s+(\d+)\s*$")
pending, total = {}, 0
for line in sys.stdin:
    m = call.match(line)
    if m:
        pid, name = m.group(1), m.group(4)
        if line.rstrip().endswith("<unfinished ...>"):
            pending[pid] = name
            continue
    else:
        m = resumed.match(line)
        if not m:
            continue
        name = pending.pop(m.group(1), None)
    r = result.search(line)
    if r and name == path:
        total += int(r.group(1))
print(total)
PY

# --- Data ------------------------------------------------------------------------------------
say "generating the data (about $DATA_MIB MiB each, big.bin $BIG_MIB MiB)"
data_bytes=$((DATA_MIB << 20))
# The COG: a random 3-band byte raster (ENVI raw + header), tiled 512x512, DEFLATE, with
# overviews: side^2 * 3 bands * 4/3 for the overviews ~ DATA_MIB.
if have gdal_translate; then
  side=$(awk -v b="$data_bytes" 'BEGIN { s = int(sqrt(b / 4) / 256) * 256; print (s < 1024 ? 1024 : s) }')
  head -c $((side * side * 3)) /dev/urandom > "$WORK/raster.raw"
  printf 'ENVI\nsamples = %d\nlines = %d\nbands = 3\nheader offset = 0\nfile type = ENVI Standard\ndata type = 1\ninterleave = bsq\nbyte order = 0\n' \
    "$side" "$side" > "$WORK/raster.hdr"
  gdal_translate -q -of COG -co COMPRESS=DEFLATE -co BLOCKSIZE=512 "$WORK/raster.raw" "$WWW/cog.tif"
  rm -f "$WORK/raster.raw" "$WORK/raster.hdr"
  # An unaligned window in the middle: up to four tiles.
  window_x=$((side / 2 + 100)) window_y=$((side / 2 + 200))
else
  say "gdal-bin is not installed: the COG jobs are left out"
fi
# The Parquet file: id (int64, sequential), v (float64, random), k (int32, random), payload
# (40 random bytes): 60 bytes a row, 8 row groups, snappy (the default).
if have_py pyarrow; then
  "$PY" - "$WWW/data.parquet" "$data_bytes" <<'PY'
import os, random, sys
import pyarrow as pa, pyarrow.parquet as pq
path, target = sys.argv[1], int(sys.argv[2])
n = target // 60
rng = random.Random(7)
table = pa.table({
    "id": pa.array(range(n), pa.int64()),
    "v": pa.array([rng.random() for _ in range(n)], pa.float64()),
    "k": pa.Array.from_buffers(pa.int32(), n, [None, pa.py_buffer(os.urandom(4 * n))]),
    "payload": pa.Array.from_buffers(pa.binary(40), n, [None, pa.py_buffer(os.urandom(40 * n))]),
})
pq.write_table(table, path, row_group_size=n // 8 + 1)
PY
else
  say "pyarrow is not installed: the Parquet file and its jobs are left out"
fi
# The zip and the tar: 400 members of random bytes, 4/3 DATA_MIB in all, the zip stored (-0).
members=400
mkdir -p "$WORK/members"
head -c $((data_bytes * 4 / 3)) /dev/urandom | split -b $((data_bytes * 4 / 3 / members)) -a 4 -d - "$WORK/members/member-"
(cd "$WORK/members" && zip -0 -q -r "$WWW/data.zip" . && tar cf "$WWW/data.tar" .)
rm -rf "$WORK/members"
zip_member=member-0200
# The MP4: 60 s of testsrc2 with noise (so that it does not compress to nothing), H.264 at
# 4 Mbit/s with a keyframe every 2 s; the mp4 muxer writes the index (moov) after the media.
if have ffmpeg; then
  ffmpeg -v error -y -f lavfi -i testsrc2=size=640x360:rate=25 -t 60 -vf noise=alls=12:allf=t \
    -c:v libx264 -preset ultrafast -g 50 -b:v 4M -pix_fmt yuv420p "$WWW/video.mp4" </dev/null
  video_mid=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$WWW/video.mp4" | awk '{ printf "%.2f", $1 / 2 }')
else
  say "ffmpeg is not installed: the MP4 jobs are left out"
fi
# The database: rows of (id, k, payload) with a random 1000-byte payload and an index on k, a
# bijective hash of id (as in compare.sh): about DATA_MIB.
rows=$((DATA_MIB * 900))
sqlite3 "$WWW/db.sqlite" >/dev/null <<SQL
PRAGMA page_size = 4096;
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, payload BLOB NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
INSERT INTO t SELECT i, (i * 2654435761) % 4294967296, randomblob(1000) FROM n;
CREATE INDEX t_k ON t (k);
SQL
query_id=$((rows / 2 + 7))
query_key=$(((rows / 3 * 2654435761) % 4294967296))
big_bytes=$(stat -c %s "$WWW/big.bin")
# MOUNT_FILES lists what bitsfs mounts: only the files that were made.
present=()
for f in "${MOUNT_FILES[@]}"; do [ -f "$WWW/$f" ] && present+=("$f"); done
MOUNT_FILES=("${present[@]}")
sync
for f in "${MOUNT_FILES[@]}"; do say "data: $f $(stat -c %s "$WWW/$f") B"; done

# --- Jobs ------------------------------------------------------------------------------------
# JOB|FILE|OWN: OWN is how the program reads the URL itself (vsicurl, url) or empty.
JOBS=()
[ -f "$WWW/cog.tif" ] && JOBS+=("cog-info|cog.tif|vsicurl" "cog-window|cog.tif|vsicurl")
[ -f "$WWW/data.parquet" ] && JOBS+=("pq-meta-pyarrow|data.parquet|" "pq-sum-pyarrow|data.parquet|")
[ -f "$WWW/data.parquet" ] && have_py duckdb_extension_httpfs && JOBS+=("duck-meta|data.parquet|url" "duck-sum|data.parquet|url")
JOBS+=("zip-list|data.zip|" "zip-member|data.zip|" "tar-list|data.tar|")
[ -f "$WWW/video.mp4" ] && JOBS+=("ffprobe|video.mp4|url" "ffmpeg-frame|video.mp4|url")
JOBS+=("sqlite-rowid|db.sqlite|" "sqlite-index|db.sqlite|")
have_py mmap && JOBS+=("mmap|big.bin|" "mmap-random|big.bin|" "pread|big.bin|")
[ -f "$WWW/cog.tif" ] && JOBS+=("file|cog.tif|")
JOBS+=("dd-1mib|big.bin|")
if [ -n "${ONLY:-}" ]; then
  chosen=()
  for entry in "${JOBS[@]}"; do [[ " $ONLY " == *" ${entry%%|*} "* ]] && chosen+=("$entry"); done
  JOBS=("${chosen[@]}")
fi
export GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR  # no directory listing before opening a file

# run_job JOB TARGET: runs the job on TARGET (a path, /vsicurl/URL or URL), its output to stdout.
run_job() {
  local t=(timeout 120)
  case $1 in
    cog-info) "${t[@]}" gdalinfo "$2" ;;
    cog-window) "${t[@]}" gdal_translate -q -srcwin "$window_x" "$window_y" 512 512 "$2" "$WORK/out/window.tif" ;;
    pq-*|duck-*|mmap|mmap-random|pread) "${t[@]}" "$PY" "$WORK/jobs.py" "$1" "$2" ;;
    zip-list) "${t[@]}" unzip -l "$2" ;;
    zip-member) "${t[@]}" unzip -p "$2" "$zip_member" | wc -c ;;
    tar-list) "${t[@]}" tar tvf "$2" ;;
    ffprobe) "${t[@]}" ffprobe -v error -show_format -show_streams "$2" ;;
    ffmpeg-frame) "${t[@]}" ffmpeg -v error -y -ss "$video_mid" -i "$2" -frames:v 1 "$WORK/out/frame.png" </dev/null ;;
    sqlite-rowid) "${t[@]}" sqlite3 "file:$2?immutable=1" "select length(payload) from t where id = $query_id" ;;
    sqlite-index) "${t[@]}" sqlite3 "file:$2?immutable=1" "select length(payload) from t where k = $query_key" ;;
    file) "${t[@]}" file "$2" ;;
    dd-1mib) "${t[@]}" dd if="$2" of=/dev/null bs=128k count=8 skip=$((big_bytes / 2 / 131072)) status=none ;;
    *) echo "unknown job $1" >&2; return 2 ;;
  esac
}

# set_kernel_read_ahead MOUNTPOINT KIB: the kernel's page-cache read-ahead for the mount (bitsfs
# sets 256, --kernel-read-ahead), for telling its share of the bytes from the read-ahead policy's.
set_kernel_read_ahead() {
  local device
  device=$(awk -v m="$1" '$5 == m { print $3 }' /proc/self/mountinfo | tail -n 1)
  echo "$2" > "/sys/class/bdi/$device/read_ahead_kb"
}

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RAW"; }
: > "$RAW"

for entry in "${JOBS[@]}"; do
  IFS='|' read -r job file own <<< "$entry"
  say "$job ($file)"
  # What the job reads: its read calls on the origin file, under strace (not timed).
  case $job in
    mmap|mmap-random) record "$job" read bytes $((50 * 4096)) ;;
  esac
  case $job in
    mmap|mmap-random) ;;
    *)
      if run_job "$job" "$WWW/$file" > /dev/null 2>&1; then
        strace -f -qq -y -e trace=read,pread64,readv,preadv,preadv2 -o "$WORK/strace.txt" \
          bash -c "$(declare -f run_job); $(declare -p window_x window_y PY WORK zip_member video_mid query_id query_key big_bytes 2>/dev/null); run_job \"\$@\"" \
          run_job "$job" "$WWW/$file" > /dev/null 2>&1 || true
        record "$job" read bytes "$(python3 "$WORK/strace_bytes.py" "$WWW/$file" < "$WORK/strace.txt")"
      else
        say "$job fails on the origin file: left out"
        continue
      fi
      ;;
  esac
  t=$(seconds run_job "$job" "$WWW/$file") && record "$job" local seconds "$t"

  for tool in "${TOOLS[@]}"; do
    if ! fresh "$tool"; then
      say "$tool: mount failed (log: $(tail -n 2 "$WORK/$tool.log" 2>/dev/null | tr '\n' ' '))"
      record "$job" "$tool" failed mount
      stop_mount "$tool" || { say "$tool would not unmount"; exit 1; }
      continue
    fi
    [ "$tool" = bitsfs ] && [ -n "${KERNEL_RA_KB:-}" ] && set_kernel_read_ahead "$WORK/mnt-bitsfs" "$KERNEL_RA_KB"
    if t=$(seconds run_job "$job" "$WORK/mnt-$tool/$file"); then
      record "$job" "$tool" seconds "$t"
    else
      record "$job" "$tool" failed run
    fi
    if [ "$tool" = bitsfs ]; then
      record "$job" bitsfs stats "$(timeout 10 getfattr --absolute-names --only-values -n user.bitsfs.stats "$WORK/mnt-bitsfs/$file" || true)"
    fi
    stop_mount "$tool" || { say "$tool would not unmount"; exit 1; }
    record "$job" "$tool" bytes "$(log_bytes_since "$mark")"
  done

  if [ -n "$own" ]; then
    case $own in
      vsicurl) target=/vsicurl/$BASE/$file ;;
      url) target=$BASE/$file ;;
    esac
    mark=$(log_mark)
    if t=$(seconds run_job "$job" "$target"); then
      record "$job" own seconds "$t"
    else
      record "$job" own failed run
    fi
    record "$job" own bytes "$(log_bytes_since "$mark")"
  fi
done

# --- Report ----------------------------------------------------------------------------------
versions="bitsfs $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo '+changes')"
have gdalinfo && versions+=", GDAL $(gdalinfo --version | awk '{ print $2 }' | tr -d ,)"
have ffmpeg && versions+=", ffmpeg $(ffmpeg -version | awk 'NR == 1 { print $3 }')"
have_py pyarrow && versions+=", pyarrow $("$PY" -c 'import pyarrow; print(pyarrow.__version__)')"
have_py duckdb && versions+=", duckdb $("$PY" -c 'import duckdb; print(duckdb.__version__)') + httpfs"
have httpdirfs && versions+=", httpdirfs $(httpdirfs --version 2>&1 | awk '/HTTPDirFS version/ { print $3; exit }')"
have rclone && versions+=", rclone $(rclone version 2>/dev/null | awk 'NR == 1 { print $2 }')"
versions+=", nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*/||'), sqlite3 $(sqlite3 --version | awk '{ print $1 }')"
data_line=""
for f in "${MOUNT_FILES[@]}"; do data_line+="${data_line:+, }$f $(stat -c %s "$WWW/$f") B"; done

python3 - "$RAW" "${TOOLS[*]}" > "$WORK/tables.md" <<'PY'
import sys
from collections import defaultdict
raw = defaultdict(dict)  # job -> {(tool, metric): value}
order = []
for line in open(sys.argv[1]):
    job, tool, metric, value = line.rstrip("\n").split("\t", 3)
    if job not in order:
        order.append(job)
    raw[job][(tool, metric)] = value
tools = sys.argv[2].split()

def human(n):
    if n is None:
        return "—"
    if n < 1024:
        return "%d B" % n
    for unit, scale in (("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)):
        if n < scale * 1024 or unit == "GiB":
            v = n / scale
            return ("%.1f %s" if v < 100 else "%.0f %s") % (v, unit)

def get(job, tool, metric="bytes"):
    r = raw[job]
    if (tool, "failed") in r:
        return None
    v = r.get((tool, metric))
    return int(v) if metric == "bytes" and v not in (None, "") else v

def cell(job, tool):
    r = raw[job]
    if (tool, "failed") in r:
        return "failed (%s)" % r[(tool, "failed")]
    return human(get(job, tool))

out = ["| job | bytes read by the job | bitsfs sent | own reader sent | %s | bitsfs / own | bitsfs / read | target | |"
       % " | ".join("%s sent" % t for t in tools[1:]),
       "|---|---|---|---|%s---|---|---|---|" % ("---|" * len(tools[1:]))]
passed = failed = 0
for job in order:
    read, b, own = get(job, "read"), get(job, "bitsfs"), get(job, "own")
    ratio = "%.2f" % (b / own) if b is not None and own else "—"
    per_read = "%.1f" % (b / read) if b is not None and read else "—"
    if job.startswith("mmap"):
        limit, name = 50 * 128 * 1024, "≤ 128 KiB per slice (6.2 MiB)"
    elif job == "dd-1mib":
        limit, name = 4 << 20, "≤ 4 MiB"
    elif own is not None:
        limit, name = 1.5 * own, "≤ 1.5× own (%s)" % human(int(1.5 * own))
    elif read is not None:
        limit, name = 4 * read, "≤ 4× read (%s)" % human(4 * read)
    else:
        limit, name = None, "—"
    if b is None or limit is None:
        verdict = "not measured"
    elif b <= limit:
        verdict, passed = "PASS", passed + 1
    else:
        verdict, failed = "**FAIL**", failed + 1
    extra = " (%s per slice)" % human(b // 50) if job in ("mmap", "mmap-random", "pread") and b is not None else ""
    out.append("| %s | %s | %s%s | %s | %s | %s | %s | %s | %s |" % (
        job, human(read), cell(job, "bitsfs"), extra,
        cell(job, "own") if ("own", "bytes") in raw[job] else "—",
        " | ".join(cell(job, t) for t in tools[1:]), ratio, per_read, name, verdict))
out.append("")
out.append("Targets: %d PASS, %d FAIL." % (passed, failed))
out.append("")
out.append("| job | local file s | bitsfs s | own reader s | %s | bitsfs fetched | requests | read-ahead | read-ahead used |"
           % " | ".join("%s s" % t for t in tools[1:]))
out.append("|---|---|---|---|%s---|---|---|---|" % ("---|" * len(tools[1:])))
for job in order:
    stats = dict(kv.split("=", 1) for kv in (get(job, "bitsfs", "stats") or "").split() if "=" in kv)
    sec = lambda tool: raw[job].get((tool, "seconds"), "failed" if (tool, "failed") in raw[job] else "—")
    num = lambda key: human(int(stats[key])) if key in stats else "—"
    out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        job, sec("local"), sec("bitsfs"), sec("own"), " | ".join(sec(t) for t in tools[1:]),
        num("fetched"), stats.get("requests", "—"), num("read-ahead"), num("read-ahead-used")))
print("\n".join(out))
PY

{
  echo "# Real tools: bytes the server sent per job"
  echo
  echo "Written by \`bench/real-tools.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(($(date +%s) - script_start)) s in all" \
    "(BIG_MIB=$BIG_MIB, DATA_MIB=$DATA_MIB${BITSFS_FLAGS:+, BITSFS_FLAGS=\"$BITSFS_FLAGS\"}${KERNEL_RA_KB:+, KERNEL_RA_KB=$KERNEL_RA_KB}). Machine: $(nproc) CPUs, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
  echo "Versions: $versions."
  echo "Data: $data_line."
  echo
  cat "$WORK/tables.md"
  echo
  echo "*sent*: body bytes nginx logged during the job (\$body_bytes_sent), each mount fresh with an"
  echo "empty cache, its mount-time requests not counted. *bytes read by the job*: what its read calls"
  echo "returned on the origin file, counted with strace; for mmap and pread the 50 slices of 4 KiB."
  echo "*own reader*: GDAL /vsicurl/ (GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR, set for every GDAL run),"
  echo "DuckDB httpfs, ffmpeg's http protocol. Times are single runs on a shared 2-core machine."
  echo "bitsfs counters: its user.bitsfs.stats of the file after the job."
} > "$WORK/report.md"
cat "$WORK/report.md"
if [ "$RESULTS" != - ]; then
  replace_section "$RESULTS" "# Real tools" "$WORK/report.md"
  say "wrote its section of $RESULTS"
fi
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP"
  cp "$LOG" "$RAW" "$WORK"/*.log "$KEEP"/ 2>/dev/null || true
  say "kept the logs and raw figures in $KEEP"
fi

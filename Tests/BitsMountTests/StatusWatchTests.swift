import BitsEngine
import BitsMount
import XCTest

/// What `bitsfs status --watch` shows, as a pure function of two statuses.
final class StatusWatchTests: XCTestCase {
  private func file(
    _ name: String, size: UInt64, filled: UInt64, fetched: UInt64, activity: String = "idle", fill: FillStatus? = nil
  ) -> FileStatus {
    var status = FileStatus(unopened: "http://example.org/\(name)", size: size)
    status.name = name
    status.filledBytes = filled
    status.fetchedBytes = fetched
    status.activity = activity
    status.filledMap =
      String(repeating: "#", count: Int(filled * 8 / max(size, 1)))
      + String(
        repeating: ".", count: 8 - Int(filled * 8 / max(size, 1)))
    status.fill = fill
    return status
  }

  private func fill(_ state: String, error: BitsError? = nil) -> FillStatus {
    FillStatus(priority: "low", state: state, error: error.map(ErrorStatus.init))
  }

  private func mount(_ files: [FileStatus]) -> MountStatus {
    MountStatus(mountPoint: "/mnt/x", pid: 1, job: JobStatus(state: "transferring"), files: files)
  }

  func testRowsGiveStateRateAndTimeLeftOfBackgroundFill() {
    let before = mount([
      file("a.bin", size: 8 << 20, filled: 2 << 20, fetched: 2 << 20, fill: fill("queued")),
      file("b.bin", size: 1 << 20, filled: 0, fetched: 0, activity: "retrying"),
    ])
    var after = mount([
      file("a.bin", size: 8 << 20, filled: 4 << 20, fetched: 4 << 20, fill: fill("queued")),
      file("b.bin", size: 1 << 20, filled: 0, fetched: 0, activity: "retrying"),
      file("c.bin", size: 100, filled: 100, fetched: 0),
      file(
        "d.bin", size: 5 << 20, filled: 1 << 20, fetched: 1 << 20,
        fill: fill("error", error: BitsError(.diskFull, "no room"))),
    ])
    after.files[1].lastError = ErrorStatus(BitsError(.httpStatus(503), "unavailable"))
    let rows = StatusWatch.rows(of: after, previous: before, seconds: 2)
    XCTAssertEqual(rows.map(\.state), ["transferring", "transient-error", "transferred", "error"])
    XCTAssertEqual(rows.map(\.code), [nil, "BG_E_HTTP_ERROR_503", nil, "ERROR_DISK_FULL"])
    XCTAssertEqual(rows.map(\.priority), ["low", "on demand", "on demand", "low"])
    XCTAssertEqual(rows[0].rate, 1 << 20, "2 MiB in 2 s")
    XCTAssertEqual(rows[0].secondsLeft, 4, "4 MiB left at 1 MiB/s")
    XCTAssertNil(rows[3].secondsLeft, "a stopped fill has no time left")
    XCTAssertEqual(rows[3].rate, 0, "a file not seen before has no rate yet")

    XCTAssertEqual(
      StatusWatch.plainLines(of: rows),
      [
        "a.bin state=transferring priority=low filled=4194304 size=8388608 rate=1048576 eta=4",
        "b.bin state=transient-error code=BG_E_HTTP_ERROR_503 priority=none filled=0 size=1048576 rate=0",
        "c.bin state=transferred priority=none filled=100 size=100 rate=0",
        "d.bin state=error code=ERROR_DISK_FULL priority=low filled=1048576 size=5242880 rate=0",
      ])
    let screen = StatusWatch.screen(of: after, rows: rows, width: 8)
    XCTAssertEqual(
      screen[0], "/mnt/x  job transferring  4 files  5.0 MiB of 14.0 MiB filled  background fill: 4.0 MiB left, ETA 4 s"
    )
    XCTAssertEqual(screen[1], "a.bin  transferring  low  4.0 MiB of 8.0 MiB (50.0%)  1.0 MiB/s  ETA 4 s")
    XCTAssertEqual(screen[2], "  [####....]")
    XCTAssertEqual(screen[3], "b.bin  transient-error BG_E_HTTP_ERROR_503  on demand  0 B of 1.0 MiB (0.0%)  0 B/s")
    XCTAssertEqual(screen.count, 1 + 2 * rows.count)
  }

  /// A fill of more files than a status lists: the header and a last line count those left out.
  func testFilesOfFillLeftOutAreCounted() {
    var status = mount([file("a.bin", size: 10, filled: 0, fetched: 0, fill: fill("queued"))])
    let rows = StatusWatch.rows(of: status, previous: nil, seconds: 0)
    XCTAssertEqual(StatusWatch.plainLines(of: rows, fill: nil).count, 1)
    status.fill = FillCounts(queued: 99_990, transferring: 8, transferred: 1, error: 1, unlisted: 99_000)
    XCTAssertEqual(
      StatusWatch.plainLines(of: rows, fill: status.fill).last,
      "unlisted=99000 queued=99990 transferring=8 transferred=1 error=1")
    XCTAssertEqual(
      StatusWatch.screen(of: status, rows: rows, width: 8)[0],
      "/mnt/x  job transferring  1 files  0 B of 10 B filled  (99000 more files of background fill not listed; "
        + "queued 99990, transferring 8, transferred 1, error 1)  background fill: 10 B left")
    status.fill?.unlisted = 0
    XCTAssertEqual(StatusWatch.plainLines(of: rows, fill: status.fill).count, 1, "nothing left out, nothing said")
  }

  func testTheFirstStatusHasNoRatesAndDurationsRead() {
    let status = mount([file("a.bin", size: 10, filled: 5, fetched: 5, fill: fill("transferring"))])
    let rows = StatusWatch.rows(of: status, previous: nil, seconds: 0)
    XCTAssertEqual(rows[0].rate, 0)
    XCTAssertNil(rows[0].secondsLeft, "no rate, no time left")
    XCTAssertEqual(StatusWatch.duration(59), "59 s")
    XCTAssertEqual(StatusWatch.duration(247), "4:07")
    XCTAssertEqual(StatusWatch.duration(3909), "1:05:09")
  }
}

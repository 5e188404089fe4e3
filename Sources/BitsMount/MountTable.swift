import BitsEngine
import FoundationEssentials
import Glibc

/// The system's mount table, as this process sees it.
public enum MountTable {
  /// The mounts of `/proc/self/mountinfo`: each one's device (`major:minor`, field 3) and mount
  /// point (field 5, with the octal escapes of spaces and such decoded).
  public static func mounts() -> [(device: String, mountPoint: String)] {
    guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
    return text.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ")
      return fields.count > 4 ? (String(fields[2]), decode(String(fields[4]))) : nil
    }
  }

  public static func mountPoints() -> [String] {
    mounts().map(\.mountPoint)
  }

  public static func isMountPoint(_ path: String) -> Bool {
    mountPoints().contains(path)
  }

  /// Whether `path` is in a mount whose process died: the kernel answers ENOTCONN. Asked with
  /// statvfs, which always reaches the file system, where stat may be answered from attributes
  /// the kernel cached before the death.
  public static func isDeadMount(_ path: String) -> Bool {
    var info = statvfs()
    return statvfs(path, &info) != 0 && errno == ENOTCONN
  }

  /// What to say of `path`, in a dead mount: which mount it is and how to clear it.
  public static func deadMountError(_ path: String) -> BitsError {
    let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
    let mountPoint =
      mountPoints().filter { absolute == $0 || absolute.hasPrefix($0 + "/") }.max { $0.count < $1.count } ?? absolute
    return BitsError(
      .invalidArgument,
      "\(mountPoint) is a dead mount (its bitsfs process has ended); clear it with `bitsfs unmount \(mountPoint)`")
  }

  static func decode(_ field: String) -> String {
    var bytes: [UInt8] = []
    var iterator = Array(field.utf8)[...]
    while let byte = iterator.popFirst() {
      if byte == UInt8(ascii: "\\"), iterator.count >= 3,
        let value = UInt8(String(decoding: iterator.prefix(3), as: UTF8.self), radix: 8)
      {
        bytes.append(value)
        iterator = iterator.dropFirst(3)
      } else {
        bytes.append(byte)
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}

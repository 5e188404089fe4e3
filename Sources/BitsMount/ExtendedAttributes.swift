import CFuseShim
import FoundationEssentials

/// Reads the `user.bitsfs.*` attributes a mount publishes for each file.
public enum ExtendedAttributes {
  /// The attribute's value as text, or `nil` when the file has no such attribute.
  public static func value(_ name: String, of path: String) -> String? {
    let size = getxattr(path, name, nil, 0)
    guard size >= 0 else { return nil }
    var buffer = [UInt8](repeating: 0, count: size + 1)
    let read = getxattr(path, name, &buffer, buffer.count)
    guard read >= 0 else { return nil }
    return String(decoding: buffer[0..<read], as: UTF8.self)
  }
}

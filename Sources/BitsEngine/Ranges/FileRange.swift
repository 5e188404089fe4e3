/// A byte range of a remote file as BITS names it (`BG_FILE_RANGE`): an offset and a length,
/// where the length may be ``FileRange/lengthToEndOfFile`` (`BG_LENGTH_TO_EOF`).
public struct FileRange: Hashable, Sendable, CustomStringConvertible {
  /// `BG_LENGTH_TO_EOF`: the range runs to the end of the remote file, whatever its size.
  public static let lengthToEndOfFile = UInt64.max

  public var offset: UInt64
  public var length: UInt64

  public init(offset: UInt64, length: UInt64) {
    self.offset = offset
    self.length = length
  }

  /// The range covering `bytes`, a half-open interval.
  public init(_ bytes: Range<UInt64>) {
    // Not `bytes.count`: an `Int`, it traps beyond `Int.max`.
    self.init(offset: bytes.lowerBound, length: bytes.upperBound - bytes.lowerBound)
  }

  public var extendsToEndOfFile: Bool { length == Self.lengthToEndOfFile }

  /// The half-open byte interval once the file size is known; `nil` when the range lies
  /// (even partly) outside a file of `fileSize` bytes.
  public func resolved(fileSize: UInt64) -> Range<UInt64>? {
    if extendsToEndOfFile {
      return offset <= fileSize ? offset..<fileSize : nil
    }
    let (end, overflow) = offset.addingReportingOverflow(length)
    guard !overflow, end <= fileSize else { return nil }
    return offset..<end
  }

  public var description: String {
    extendsToEndOfFile ? "\(offset):eof" : "\(offset):\(length)"
  }
}

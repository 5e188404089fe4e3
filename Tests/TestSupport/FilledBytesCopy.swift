import BitsEngine

extension FilledBytes {
  /// The bytes, copied out of the cache file or the received copy.
  public func copiedBytes() -> Result<[UInt8], BitsError> {
    var copy = [UInt8](repeating: 0, count: range.count)
    do {
      try copy.withUnsafeMutableBytes { try self.copy(into: $0) }
    } catch {
      return .failure(error as? BitsError ?? BitsError(.invalidArgument, "\(error)"))
    }
    return .success(copy)
  }
}

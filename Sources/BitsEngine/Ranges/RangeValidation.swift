import FoundationEssentials

/// The checks `AddFileWithRanges` and `RequestFileRanges` make on a range list before accepting it.
public enum RangeValidation {
  /// BITS's default `MaxRangesPerFile`.
  public static let defaultMaximumRangeCount = 500

  /// Throws the BITS error for the first rule `ranges` breaks, in this order: none given
  /// (`E_INVALIDARG`), more than `maximumCount` (`BG_E_TOO_MANY_RANGES_IN_FILE`), an offset given
  /// as to-EOF (`BG_E_INVALID_RANGE`), duplicates or overlaps (`BG_E_OVERLAPPING_RANGES`), an
  /// empty or overflowing length (`BG_E_INVALID_RANGE`).
  public static func validate(_ ranges: [FileRange], maximumCount: Int) throws(BitsError) {
    guard !ranges.isEmpty else {
      throw BitsError(.invalidArgument, "at least one range is required")
    }
    guard ranges.count <= maximumCount else {
      throw BitsError(
        .tooManyRangesInFile, "\(ranges.count) ranges given, more than the limit of \(maximumCount) per file")
    }
    for range in ranges where range.offset == FileRange.lengthToEndOfFile {
      throw BitsError(.invalidRange, "range \(range): an offset cannot be BG_LENGTH_TO_EOF")
    }
    // Ranges are ordered by offset alone, as BITS does: the same offset twice overlaps whatever
    // the lengths and whatever order they came in (100:5 then 100:0 is an overlap, not an
    // empty range).
    let sorted = ranges.sorted { $0.offset < $1.offset }
    for (earlier, later) in zip(sorted, sorted.dropFirst()) {
      let (end, overflow) = earlier.offset.addingReportingOverflow(earlier.length)
      let overlaps = earlier.offset == later.offset || earlier.extendsToEndOfFile || overflow || end > later.offset
      if overlaps {
        throw BitsError(.overlappingRanges, "ranges \(earlier) and \(later) overlap")
      }
    }
    for range in ranges {
      if range.length == 0 {
        throw BitsError(.invalidRange, "range \(range) has zero length")
      }
      if !range.extendsToEndOfFile, range.offset.addingReportingOverflow(range.length).overflow {
        throw BitsError(.invalidRange, "range \(range) ends beyond any possible file size")
      }
    }
  }

  /// Checks that every range lies inside a file of `fileSize` bytes and returns them resolved,
  /// in the order given; `BG_E_INVALID_RANGE` names the first one outside.
  public static func resolve(_ ranges: [FileRange], fileSize: UInt64, url: String) throws(BitsError)
    -> [Range<UInt64>]
  {
    var resolved: [Range<UInt64>] = []
    for range in ranges {
      guard let bytes = range.resolved(fileSize: fileSize), !bytes.isEmpty || fileSize == 0 else {
        throw BitsError(
          .invalidRange, "range \(range) lies outside the remote file of \(fileSize) bytes", url: url)
      }
      resolved.append(bytes)
    }
    return resolved
  }
}

import BitsEngine

/// A fixed-size picture of which parts of a file are filled, for `user.bitsfs.filled-map`: the
/// full list (`user.bitsfs.filled`) passes the kernel's 64 KiB limit on an attribute at about
/// 3,500 ranges, this never does. One character per slot of the file: `#` all filled, `+` partly,
/// `.` nothing; `min(slotCount, size)` slots, slot `i` covering bytes from `ceil(i × size / n)`
/// up to `ceil((i + 1) × size / n)`.
public enum FilledMap {
  public static let slotCount = 4096

  /// The map of `ranges` of a file of `size` bytes, in `slots` slots (at most `slotCount`).
  public static func encode(_ ranges: [FileRange], size: UInt64, slots: Int = slotCount) -> String {
    let count = Int(min(UInt64(max(1, min(slots, slotCount))), size))
    guard count > 0 else { return "" }
    var covered = [UInt64](repeating: 0, count: count)
    // Each range adds its bytes to the slots it spans: the work grows with ranges plus slots.
    for range in ranges {
      var lower = min(range.offset, size)
      let upper =
        range.offset.addingReportingOverflow(range.length).overflow
        ? size : min(size, range.offset + range.length)
      while lower < upper {
        let slot = slot(of: lower, count: count, size: size)
        let end = min(upper, bound(slot + 1, count: count, size: size))
        covered[slot] += end - lower
        lower = end
      }
    }
    return String(
      covered.indices.map { slot -> Character in
        let length = bound(slot + 1, count: count, size: size) - bound(slot, count: count, size: size)
        return covered[slot] == length ? "#" : covered[slot] > 0 ? "+" : "."
      })
  }

  /// `map` in `width` characters of the same kind, each combining the slots under it.
  public static func picture(of map: String, width: Int) -> String {
    let slots = Array(map)
    guard !slots.isEmpty else { return String(repeating: "#", count: width) }
    return String(
      (0..<width).map { column -> Character in
        let lower = column * slots.count / width
        let upper = max(lower + 1, (column + 1) * slots.count / width)
        let under = Set(slots[lower..<upper])
        return under.count == 1 ? slots[lower] : "+"
      })
  }

  /// The first byte of `slot`: `ceil(slot × size / count)`, without overflow for any size.
  private static func bound(_ slot: Int, count: Int, size: UInt64) -> UInt64 {
    let (quotient, remainder) = UInt64(count).dividingFullWidth(UInt64(slot).multipliedFullWidth(by: size))
    return quotient + (remainder > 0 ? 1 : 0)
  }

  private static func slot(of byte: UInt64, count: Int, size: UInt64) -> Int {
    Int(size.dividingFullWidth(byte.multipliedFullWidth(by: UInt64(count))).quotient)
  }
}

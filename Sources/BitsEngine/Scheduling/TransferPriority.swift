/// Who is waiting for a range, in the order BITS names job priorities (`BG_JOB_PRIORITY`):
/// a reader now (`foreground`), then background work at `high`, `normal` or `low`.
/// Read-ahead runs at `high`: below readers, above background fill.
public enum TransferPriority: Int, Comparable, Sendable, CaseIterable {
  case foreground
  case high
  case normal
  case low

  public static func < (lhs: TransferPriority, rhs: TransferPriority) -> Bool {
    // A lower raw value goes first.
    lhs.rawValue < rhs.rawValue
  }
}

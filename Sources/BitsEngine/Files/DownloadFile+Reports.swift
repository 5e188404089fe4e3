import Dispatch

/// `FileRangesTransferred`, no more often than the minimum notification interval.
extension DownloadFile {
  /// Acts on what the throttle said: report now, or flush later.
  func deliver(_ next: RangeReportThrottle.Next) {
    switch next {
    case .nothing: break
    case .report(let ranges): notify(self, .rangesTransferred(ranges))
    case .flush(let delay):
      callbackQueue.asyncAfter(deadline: .now() + delay.dispatchInterval) { [weak self] in
        self?.flushReport()
      }
    }
  }

  func flushReport() {
    deliver(state.withLock { $0.reports.flush(now: .now) })
  }
}

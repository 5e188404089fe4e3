import Synchronization

/// The foreground transfers of one `HTTPClient`, which its background lanes yield to
/// (`ForegroundYield`): meanwhile they pause receiving (`curl_easy_pause`), so that a reader's
/// requests do not share the link, the server or the cores with fill. Lock: `state` is a leaf;
/// lanes are woken with no lock held.
final class ForegroundActivity: Sendable {
  private struct State {
    var yield: ForegroundYield
    var backgroundLanes: [WeakLane] = []
  }

  private struct WeakLane {
    weak var lane: CurlLane?
  }

  /// Whether background lanes yield now, and until when if that is known.
  struct Answer {
    var yields: Bool
    var until: ContinuousClock.Instant?
  }

  private let state: Mutex<State>

  init(grace: Duration) {
    state = Mutex(State(yield: ForegroundYield(grace: grace)))
  }

  /// The lanes to wake when foreground work begins or ends, so they pause or time their resume.
  func yield(_ lanes: [CurlLane]) {
    state.withLock { $0.backgroundLanes = lanes.map(WeakLane.init) }
  }

  func answer(at now: ContinuousClock.Instant) -> Answer {
    state.withLock { Answer(yields: $0.yield.yields(at: now), until: $0.yield.resumes(after: now)) }
  }

  func transferBegan() {
    wake(
      state.withLock { state in
        state.yield.transferBegan()
        return state.yield.inFlight == 1 ? state.backgroundLanes.compactMap(\.lane) : []
      })
  }

  func transferEnded() {
    wake(
      state.withLock { state in
        state.yield.transferEnded(at: .now)
        return state.yield.inFlight == 0 ? state.backgroundLanes.compactMap(\.lane) : []
      })
  }

  /// Only lanes with transfers: an idle one learns the state when its next transfer comes, and
  /// a walk over a tree makes two changes a listing.
  private func wake(_ lanes: [CurlLane]) {
    for lane in lanes where lane.transferCount > 0 { lane.wake() }
  }
}

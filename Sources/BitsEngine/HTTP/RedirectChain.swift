/// The redirects one transfer follows, and where its request's own headers may go. libcurl's
/// `CURLOPT_FOLLOWLOCATION` keeps only `Authorization` and `Cookie` from other hosts and
/// sends every other header anywhere, in clear after a switch to http; so redirects are
/// followed here instead.
struct RedirectChain {
  static let maximumCount = 10

  /// The URL of the request as asked, which errors name.
  let requestedURL: String
  /// The URL now asked: the request's, then each redirect's target.
  private(set) var url: String
  private(set) var count = 0
  /// Set once a redirect led from https to http: no request header of the user's goes out
  /// after that, whatever the configuration.
  private(set) var wasDowngraded = false
  private let origin: URLOrigin?

  init(url: String) {
    requestedURL = url
    self.url = url
    origin = URLOrigin(url)
  }

  /// Whether the request's own headers (credentials, often) may go to the current URL: only to
  /// the origin asked, unless the configuration sends them across origins, and never after a
  /// downgrade to http.
  func sendsRequestHeaders(_ configuration: HTTPConfiguration) -> Bool {
    !wasDowngraded && (configuration.sendsHeadersAcrossOrigins || URLOrigin(url) == origin)
  }

  /// Moves on to `target`, the absolute URL of a redirect's `Location`, or says why not.
  mutating func follow(to target: String, configuration: HTTPConfiguration) throws(BitsError) {
    guard count < Self.maximumCount else {
      throw BitsError(.invalidServerResponse, "more than \(Self.maximumCount) redirects", url: requestedURL)
    }
    guard let next = URLOrigin(target), next.isHTTP else {
      let scheme = URLOrigin(target).map { "a \($0.scheme): URL" } ?? "an unusable URL"
      throw BitsError(
        .invalidServerResponse, "the server redirected to \(scheme); only http and https are followed",
        url: requestedURL)
    }
    if URLOrigin(url)?.scheme == "https", next.scheme == "http" {
      guard configuration.followsRedirectsToHTTP else {
        throw BitsError(
          .invalidServerResponse,
          "the server redirected from https to \(next), which would send the request in clear; refused",
          url: requestedURL)
      }
      wasDowngraded = true
    }
    count += 1
    url = target
  }
}

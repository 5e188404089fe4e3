/// Settings shared by every transfer of one client.
public struct HTTPConfiguration: Sendable {
  /// How long a TCP/TLS connect may take.
  public var connectTimeout: Duration = .seconds(10)
  /// A transfer that receives no byte for this long is abandoned (a stalled server).
  public var stallTimeout: Duration = .seconds(15)
  /// Connections kept open to one host by each network thread; requests beyond this queue
  /// inside libcurl.
  public var maxConnectionsPerHost = 16
  /// Threads receiving transfers, each new one going to the least busy; as many again receive
  /// background transfers (`HTTPRequest.isBackground`).
  public var networkThreads = 2
  /// How long background transfers stay paused after the last foreground transfer ended
  /// (`ForegroundYield`). Measured on loopback with fio's random reads beside a fill, 20 ms let
  /// the fill run in the gaps between readers' requests and raised fio's p99 by 1.0–2.1 times;
  /// 100 ms, by 0.94–1.09 times.
  public var backgroundYieldGrace: Duration = .milliseconds(100)
  /// Verify TLS certificates and host names. Off only for explicit testing against self-signed hosts.
  public var verifiesTLS = true
  /// A PEM file of certificate authorities to trust instead of the system's.
  public var certificateAuthorityPath: String?
  public var userAgent = "bitsfs/0.1"
  /// Send a request's own headers (`HTTPRequest.headers`: `Authorization`, `Cookie`,
  /// `X-Api-Key`, …) to whatever host a redirect leads to, not only to the scheme, host and port
  /// of the URL asked. Off by default: a redirect to another origin would hand it the
  /// credentials. Even when on, none is sent after a redirect from https to http.
  public var sendsHeadersAcrossOrigins = false
  /// Follow a redirect from https to http. Off by default: the rest of the transfer would travel
  /// in clear, readable and changeable by anyone on the path.
  public var followsRedirectsToHTTP = false
  /// Receives one line per finished request (URL, range, status, bytes, time, outcome) for
  /// debugging. The URL is shown without credentials or query string; header values, which may
  /// be credentials, are never part of it.
  public var trace: (@Sendable (String) -> Void)?

  public init() {}
}

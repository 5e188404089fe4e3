/// Settings shared by every transfer of one client.
public struct HTTPConfiguration: Sendable {
  /// How long a TCP/TLS connect may take.
  public var connectTimeout: Duration = .seconds(10)
  /// A transfer that receives no byte for this long is abandoned (a stalled server).
  public var stallTimeout: Duration = .seconds(15)
  /// Connections kept open to one host by each network thread; requests beyond this queue
  /// inside libcurl.
  public var maxConnectionsPerHost = 16
  /// Threads receiving transfers; each new transfer goes to the least busy one.
  public var networkThreads = 2
  /// Verify TLS certificates and host names. Off only for explicit testing against self-signed hosts.
  public var verifiesTLS = true
  /// A PEM file of certificate authorities to trust instead of the system's.
  public var certificateAuthorityPath: String?
  public var userAgent = "bitsfs/0.1"
  /// Receives one line per finished request (URL, range, status, bytes, time, outcome) for
  /// debugging. Header values, which may be credentials, are never part of it.
  public var trace: (@Sendable (String) -> Void)?

  public init() {}
}

/// Asking the job's servers about files and directories without adding them to the job: what a
/// mount of a tree needs to show entries before anyone opens them.
extension DownloadJob {
  /// Learns a remote file's size and version with a one-byte range request, retrying transient
  /// failures within the retry period, as a file of the job would.
  package func probeVersion(
    remoteURL: String, completion: @escaping @Sendable (Result<RemoteVersion, BitsError>) -> Void
  ) {
    do throws(BitsError) {
      try Self.validate(remoteURL: remoteURL)
    } catch {
      return completion(.failure(error))
    }
    VersionProbe(
      url: remoteURL, headers: configuration.headers, transport: transport, backoff: configuration.backoff,
      retryPeriod: configuration.retryPeriod, retrying: { _ in }
    ).run { completion($0.map(\.version)) }
  }

  /// Reads directory listings with the job's transport and headers.
  package func directoryReader(limits: DirectoryReader.Limits) -> DirectoryReader {
    DirectoryReader(
      transport: transport, headers: configuration.headers, backoff: configuration.backoff,
      retryPeriod: configuration.retryPeriod, limits: limits)
  }
}

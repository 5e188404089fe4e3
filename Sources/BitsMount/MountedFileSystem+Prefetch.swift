import BitsEngine
import Glibc

/// Background fill of a mount (`--prefetch`): the files whose path in the mount matches a
/// pattern are filled whole at the prefetch priority, below every reader, found by walking
/// the tree (listing its directories). What a file has cached already is not fetched again.
extension MountedFileSystem {
  /// Starts filling the files that match `options.prefetch`; returns at once.
  package func startPrefetch() {
    guard !options.prefetch.isEmpty else { return }
    walk(MountTree.root)
  }

  private func walk(_ directory: Int) {
    whenListed(directory) { [self] result in
      guard case .success = result else { return }
      let children = tree.withLock { state in
        state.tree.children(of: directory).map { node in
          (node: node, path: state.tree.path(of: node), url: state.tree.file(node)?.url)
        }
      }
      for child in children {
        guard let url = child.url else {
          walk(child.node)
          continue
        }
        if options.prefetch.contains(where: { fnmatch($0, child.path, 0) == 0 }) { fill(child.node, url: url) }
      }
    }
  }

  private func fill(_ node: Int, url: String) {
    guard let file = try? openDownload(of: node, url: url) else { return }
    let priority = options.prefetchPriority
    file.connect { result in
      guard case .success(let version) = result, version.size > 0 else { return }
      try? file.requestFileRanges([FileRange(offset: 0, length: version.size)], priority: priority)
    }
  }
}

import BitsEngine

@testable import BitsMount

extension MountedFileSystem {
  /// `files` side by side in the root, as the command line places files named alone.
  static func flat(job: DownloadJob, files: [(name: String, file: DownloadFile)], options: MountOptions)
    -> MountedFileSystem
  {
    var tree = MountTree()
    var nodes: [Int: DownloadFile] = [:]
    for (name, file) in files {
      nodes[try! tree.place(url: file.remoteURL, location: nil, at: [name])] = file
    }
    return MountedFileSystem(job: job, tree: tree, files: nodes, options: options)
  }
}

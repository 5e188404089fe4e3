import Foundation
import PackagePlugin

/// Writes `BuildCommit.swift`, the commit the sources were built from (`git describe --always
/// --dirty`, or `unknown` outside a git checkout), before every build of the target that uses it:
/// `bitsfs --version` names it.
@main
struct BuildCommitPlugin: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    let output = context.pluginWorkDirectoryURL.appendingPathComponent("BuildCommit.swift")
    let script = """
      commit=$(git -C "$1" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
      printf '/// The commit these sources were built from.\\nlet buildCommit = "%s"\\n' "$commit" > "$2.new"
      cmp -s "$2.new" "$2" && rm "$2.new" || mv "$2.new" "$2"
      """
    return [
      .prebuildCommand(
        displayName: "Naming the commit of the build",
        executable: URL(fileURLWithPath: "/bin/sh"),
        arguments: ["-c", script, "sh", context.package.directoryURL.path, output.path],
        outputFilesDirectory: context.pluginWorkDirectoryURL)
    ]
  }
}

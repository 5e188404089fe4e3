import ArgumentParser
import BitsEngine

/// An fstab line gives bitsfs options only as `-o` lists: mount(8) runs `bitsfs URL MOUNTPOINT
/// -o LIST`. An entry of such a list that names a long option of `mount` (`cache_dir=/var/cache/x`,
/// `read-timeout=30`, `debug`; `_` stands for `-`) is that option; the others stay FUSE options.
/// Headers are refused there: the list shows in every process's command line (and fstab is
/// readable by everyone); `header_file=FILE` names a private file instead.
enum MountOptionList {
  /// `arguments` (without the program's name) with each `-o` list split: the entries for which
  /// `isOption(name, value)` holds given as `--name value` (or `--name`), the rest kept as `-o`.
  static func expanding(
    _ arguments: [String], isOption: (String, String?) -> Bool
  ) throws(BitsError) -> [String] {
    var result: [String] = []
    var index = arguments.startIndex
    while index < arguments.endIndex {
      let argument = arguments[index]
      index += 1
      let list: String
      if argument == "-o", index < arguments.endIndex {
        list = arguments[index]
        index += 1
      } else if argument.hasPrefix("-o"), argument.count > 2 {
        list = String(argument.dropFirst(2))
      } else {
        result.append(argument)
        continue
      }
      var kept: [Substring] = []
      for entry in list.split(separator: ",") {
        let parts = entry.split(separator: "=", maxSplits: 1)
        let name = String(parts[0].map { $0 == "_" ? "-" : $0 })
        let value = parts.count == 2 ? String(parts[1]) : nil
        guard name != "header" else {
          throw BitsError(
            .invalidArgument,
            "a header in an -o list shows in the command line: give it with header_file=FILE (readable by its owner only)"
          )
        }
        if isOption(name, value) {
          result += ["--\(name)"] + (value.map { [$0] } ?? [])
        } else {
          kept.append(entry)
        }
      }
      if !kept.isEmpty { result += ["-o", kept.joined(separator: ",")] }
    }
    return result
  }
}

extension MountCommand {
  /// Whether `--name` (with `value`) is an option of `mount`: whatever ArgumentParser says of
  /// it but that it is unknown, a value out of range among it.
  static func hasOption(_ name: String, value: String?) -> Bool {
    do {
      _ = try parse(["--\(name)"] + (value.map { [$0] } ?? []) + ["url", "mountpoint"])
      return true
    } catch {
      return !fullMessage(for: error).contains("Unknown option")
    }
  }
}

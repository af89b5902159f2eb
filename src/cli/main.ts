/**
 * The `idx` command. Parses arguments and prints; commands are loaded on demand so `idx get`
 * pays for the reader alone.
 */
import { EXIT_OK, EXIT_USAGE, UsageError, finishOut, printError, quote, writeOut } from "./io";

type Command = (args: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Command> = {
  build: () => require("./build-command").run,
  get: () => require("./get-command").run,
  verify: () => require("./verify-command").run,
  info: () => require("./info-command").run,
  set: () => require("./write-commands").runSet,
  del: () => require("./write-commands").runDel,
  put: () => require("./write-commands").runPut,
  compact: () => require("./write-commands").runCompact,
  dump: () => require("./dump-command").run,
  cp: () => require("./cp-command").run,
};

export async function main(argv: string[]): Promise<void> {
  process.exitCode = await dispatch(argv);
}

async function dispatch(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  const command = first !== undefined && COMMANDS[first] !== undefined ? first : undefined;
  try {
    const { COMMAND_HELP, MAIN_HELP } = require("./usage") as typeof import("./usage");
    if (first === undefined || first === "-h" || first === "--help" || first === "help") {
      const topic = first === "help" ? rest[0] : undefined;
      if (topic !== undefined && COMMAND_HELP[topic] === undefined) throw new UsageError(`no help for ${quote(topic)}: not a command`);
      const text = `${topic ? COMMAND_HELP[topic] : MAIN_HELP}\n`;
      if (first === undefined) {
        process.stderr.write(text);
        return EXIT_USAGE;
      }
      await writeOut(text, true);
      return EXIT_OK;
    }
    if (first === "-v" || first === "--version") {
      const { VERSION_MAJOR, VERSION_MINOR } = require("../core/format") as typeof import("../core/format");
      const pkg = require("../../package.json") as { version: string };
      await writeOut(`idx ${pkg.version} (writes format ${VERSION_MAJOR}.${VERSION_MINOR}, reads 1.x and 2.x)\n`, true);
      return EXIT_OK;
    }
    if (command === undefined) throw new UsageError(`unknown command ${quote(first)}`);
    if (rest.includes("-h") || rest.includes("--help")) {
      await writeOut(`${COMMAND_HELP[command]}\n`, true);
      return EXIT_OK;
    }
    const status = await COMMANDS[command]()(rest);
    await finishOut();
    return status;
  } catch (e) {
    return printError(e, command);
  }
}

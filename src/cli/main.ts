/**
 * The `idx` command. Parses arguments and prints; every command calls only the public
 * surface. Commands are loaded on demand so `idx get` pays for the reader alone.
 */
import { EXIT_OK, EXIT_USAGE, UsageError, printError } from "./io";

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
};

export async function main(argv: string[]): Promise<void> {
  process.exitCode = await dispatch(argv);
}

async function dispatch(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  const { COMMAND_HELP, MAIN_HELP } = require("./usage") as typeof import("./usage");
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    const topic = first === "help" ? rest[0] : undefined;
    const text = `${topic && COMMAND_HELP[topic] ? COMMAND_HELP[topic] : MAIN_HELP}\n`;
    if (first === undefined) {
      process.stderr.write(text);
      return EXIT_USAGE;
    }
    process.stdout.write(text);
    return EXIT_OK;
  }
  if (first === "-v" || first === "--version") {
    const { VERSION_MAJOR, VERSION_MINOR } = require("../core/format") as typeof import("../core/format");
    const pkg = require("../../package.json") as { version: string };
    process.stdout.write(`idx ${pkg.version} (format ${VERSION_MAJOR}.${VERSION_MINOR})\n`);
    return EXIT_OK;
  }
  const load = COMMANDS[first];
  if (load === undefined) return printError(new UsageError(`unknown command '${first}'`));
  if (rest.includes("-h") || rest.includes("--help")) {
    process.stdout.write(`${COMMAND_HELP[first]}\n`);
    return EXIT_OK;
  }
  try {
    return await load()(rest);
  } catch (e) {
    return printError(e);
  }
}

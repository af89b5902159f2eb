/** The help texts: what `idx --help` and `idx CMD --help` print. */

export const MAIN_HELP = `idx: a persistent uint32 -> uint32 index in one memory-mapped file

Usage:
  idx build IN -o OUT        build an index from text pairs (IN may be - for stdin)
  idx get FILE KEY...        print the value of each KEY
  idx get FILE               read keys from stdin, one per line; print one line per key
  idx verify FILE            check every checksum and table invariant
  idx info FILE [--json]     show version, count, capacity, load and size
  idx set FILE KEY VALUE     insert or overwrite one pair, in place
  idx del FILE KEY...        remove keys (exit 1 if one was not there)
  idx put FILE PAIRS         merge text pairs (same syntax as build; - for stdin)
  idx dump FILE              print every pair as KEY<TAB>VALUE (build reads it back)
  idx compact FILE           rehash now, into the smallest (build's) layout

Options:
  -h, --help                 show help (also: idx CMD --help)
  -v, --version              show the idx version and the format version it reads

Writers (set, del, put, compact, build) take a lock: a second one is refused, naming the
first, unless given --wait MS. Readers never wait, and see each change at once.

Exit status: 0 success; 1 a key was missing (get, del) or the index is damaged (verify);
2 usage error, bad input or an unreadable or invalid file; 130 interrupted.
The format is specified byte by byte in spec/FORMAT.md.`;

const WRITER_NOTE = `One writer at a time: while another process writes FILE, the command fails at once
and names it, or waits up to --wait MS for it. Readers in other processes see the change
at once. The change is on disk (synced) when the command exits.`;

export const COMMAND_HELP: Record<string, string> = {
  set: `Usage: idx set FILE KEY VALUE [--wait MS]

Sets KEY to VALUE in the index FILE, in place (insert or overwrite). Creates FILE as an
empty index first if it does not exist. Grows the table (a new file renamed over the old)
when it is nearly full.

${WRITER_NOTE}`,

  del: `Usage: idx del FILE KEY... [--wait MS]

Removes each KEY from FILE, in place. Exit status 1 if some KEY was not there.

${WRITER_NOTE}`,

  put: `Usage: idx put FILE PAIRS [--wait MS] [--quiet]

Merges the text pairs of PAIRS (a file, or - for stdin) into FILE: later pairs win, as
in build. The whole input is parsed first; a bad line changes nothing. A small batch is
applied in place; a large one (over a quarter of the entries) is merged into a new file
renamed over the old one. Creates FILE if it does not exist.

${WRITER_NOTE}`,

  dump: `Usage: idx dump FILE

Prints every entry as KEY<TAB>VALUE, one per line, in hash order. "idx build" of the
output gives the same map (and, after compact, the same bytes).`,

  compact: `Usage: idx compact FILE [--wait MS] [--quiet]

Rehashes FILE now into the layout and size a fresh build gives: the file becomes
byte-identical to "idx build" of its pairs. Readers follow to the new file on their own.

${WRITER_NOTE}`,

  build: `Usage: idx build IN -o OUT [--quiet]

Builds the index OUT from the text pairs in IN (a file, or - for stdin).

Input: one pair a line, KEY and VALUE separated by a tab, spaces or a comma.
Both are decimal integers from 0 to 4294967295 (no hex, no sign). Blank lines and
lines starting with # are skipped; CRLF line ends are accepted. When a key appears
more than once, its last value wins.

OUT is written beside its final name and renamed into place only when complete and
synced: readers of an existing OUT see the old index or the new one, never a mix.
A bad line stops the build with its line number; OUT is then left as it was.

Options:
  -o, --output OUT   the index file to write (required)
  -q, --quiet        print no summary (progress is shown only when stderr is a terminal)`,

  get: `Usage: idx get FILE KEY...
       idx get FILE < keys.txt

Prints the value stored for each KEY, one per line.
With one KEY, a missing key prints nothing. With several KEYs, or with keys read
from stdin (one per line), a missing key prints an empty line, so output line i
always answers input line i; blank and # lines of the input get an empty line too.

Exit status: 0 every key was found; 1 some key was missing; 2 a key is not a
decimal integer from 0 to 4294967295, or FILE cannot be read or is not a valid index.`,

  verify: `Usage: idx verify FILE

Reads all of FILE and checks the header, every block checksum and every table
invariant of spec/FORMAT.md. Any single flipped bit is caught.
Opening an index (and idx get) checks only the header; run verify after copying
an index or when you suspect damage.

Exit status: 0 intact; 1 damaged (each problem is printed); 2 FILE cannot be read.`,

  info: `Usage: idx info FILE [--json]

Prints the format version, entry count, capacity (home slots), slot count,
load (count / capacity), in-place writes, file size and bytes per entry.
Reads only the header.

Options:
  --json   print one JSON object instead of text`,
};

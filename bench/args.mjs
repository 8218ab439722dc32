/**
 * Command-line options of the bench scripts (run.mjs, report.mjs, search.mjs).
 *
 *   const opt = optionReader(process.argv.slice(2));
 *   opt('--runs', 5)   // the value after --runs, or 5
 */
export function optionReader(argv) {
  return (name, dflt) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
  };
}

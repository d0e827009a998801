// The line protocol between a script and the Rust test that runs it: the script prints
// one JSON object per line on stdout ({"step": …} to report, {"await": …} to ask the
// test to act), and the test answers an await with one line on stdin.
import { createInterface } from 'node:readline';

const answers = createInterface({ input: process.stdin });
const waiting = [];
const queued = [];
answers.on('line', (line) => {
  const next = waiting.shift();
  if (next) next(line);
  else queued.push(line);
});

/** Reports progress to the test. */
export function report(step, details = {}) {
  process.stdout.write(JSON.stringify({ step, ...details }) + '\n');
}

/** Asks the test to do something (restart the server, publish…) and waits until it did. */
export async function ask(action, details = {}) {
  process.stdout.write(JSON.stringify({ await: action, ...details }) + '\n');
  const line = queued.length ? queued.shift() : await new Promise((done) => waiting.push(done));
  return JSON.parse(line);
}

/** Runs the scenario; any failure prints its reason and exits non-zero. */
export async function run(scenario) {
  try {
    await scenario();
    answers.close();
    process.exit(0);
  } catch (error) {
    console.error(error?.stack ?? String(error));
    process.exit(1);
  }
}

/** Fails the scenario with `message` unless `condition` holds. */
export function check(condition, message) {
  if (!condition) throw new Error(message);
}

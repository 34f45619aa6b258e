/**
 * `npm run simulate`: the lost-bookings simulation (issue #17). Runs today's
 * behaviour (`release`) and held requests with the health check (`hold`) on
 * the same seeded scenario, prints the table and the goals, and writes them
 * into BENCHMARKS.md's "Lost-bookings simulation" section.
 *
 * Options (all optional): --seed, --specialists, --customers, --days,
 * --step-minutes, --hold-hours and --check-hours (`hold` mode's window and
 * check interval), and --no-write (print only).
 *
 * @example npm run simulate -- --seed 3 --customers 200
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { simulationSection, withSection } from './simulation/markdown.js';
import { judgeGoals, summarize } from './simulation/report.js';
import { runMode } from './simulation/run.js';
import { DEFAULT_PARAMETERS, drawPlan, type SimulationParameters } from './simulation/scenario.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    specialists: { type: 'string' },
    customers: { type: 'string' },
    days: { type: 'string' },
    'step-minutes': { type: 'string' },
    'hold-hours': { type: 'string' },
    'check-hours': { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});
const whole = (value: string | undefined, fallback: number, name: string) => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number ≥ 1, got ${value}`);
  return n;
};
const parameters: SimulationParameters = {
  ...DEFAULT_PARAMETERS,
  seed: whole(values.seed, DEFAULT_PARAMETERS.seed, 'seed'),
  specialists: whole(values.specialists, DEFAULT_PARAMETERS.specialists, 'specialists'),
  customers: whole(values.customers, DEFAULT_PARAMETERS.customers, 'customers'),
  days: whole(values.days, DEFAULT_PARAMETERS.days, 'days'),
  stepMinutes: whole(values['step-minutes'], DEFAULT_PARAMETERS.stepMinutes, 'step-minutes'),
  holdWindowMinutes: 60 * whole(values['hold-hours'], DEFAULT_PARAMETERS.holdWindowMinutes / 60, 'hold-hours'),
  healthCheckHours: whole(values['check-hours'], DEFAULT_PARAMETERS.healthCheckHours, 'check-hours'),
};

const plan = drawPlan(parameters);
const release = summarize(await runMode('release', parameters, plan), parameters);
console.log(`release done in ${release.wallSeconds} s`);
const hold = summarize(await runMode('hold', parameters, plan), parameters);
console.log(`hold done in ${hold.wallSeconds} s`);

const section = simulationSection(parameters, release, hold);
console.log(`\n${section}`);
for (const summary of [release, hold]) {
  if (summary.errors.length > 0) console.log(`${summary.mode}: unexpected answers: ${summary.errors.join('; ')}`);
}
for (const goal of judgeGoals(hold)) console.log(`${goal.isMet ? 'PASS' : 'FAIL'}  ${goal.name}: ${goal.detail}`);
if (!values['no-write']) {
  writeFileSync('BENCHMARKS.md', withSection(readFileSync('BENCHMARKS.md', 'utf8'), section));
  console.log('\nWrote the "Lost-bookings simulation" section of BENCHMARKS.md');
}

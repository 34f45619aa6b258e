/**
 * Turning a schema's refusal into the one `validation_failed` error: field
 * errors in the contract's shape (`{ path, message }`) and a message for
 * people. The API and the settings forms both use it; neither knows zod's
 * issue format.
 */
import type { z } from 'zod';
import type { FieldError } from '../sdk/contract.js';
import { DomainError } from './errors.js';

/** The path of an issue about the value as a whole. */
const ROOT_PATH = '(body)';

/** How a list of field errors reads as one message. */
export type ProblemSummary = (errors: FieldError[]) => string;

/**
 * The API's summary: the first problem and how many more.
 *
 * @example summarizeRequestProblems(errors) // 'Please check the request: customer.email: Invalid email (and 1 more problem).'
 */
const summarizeRequestProblems: ProblemSummary = (errors) => {
  const first = errors[0]!;
  const summary = first.path === ROOT_PATH ? first.message : `${first.path}: ${first.message}`;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
  return `Please check the request: ${summary}${more}.`;
};

/**
 * Every problem's own message in turn, for forms: their messages already
 * name the field ("Give the service a title").
 *
 * @example listProblems(errors) // 'Give the service a title. Pick a duration from the list.'
 */
export const listProblems: ProblemSummary = (errors) => errors.map((e) => e.message).join('. ') + '.';

/**
 * Zod's issues as the contract's field errors: dotted paths
 * (`customer.email`); an issue about the whole value gets `rootName`.
 *
 * @param rootName default `(body)`; e.g. `Idempotency-Key` for a header
 */
function fieldErrorsOf(error: z.ZodError, rootName = ROOT_PATH): FieldError[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || rootName, message: issue.message }));
}

/** `validation_failed` (400) with field errors and their summary (default: the API's). */
export function validationFailed(errors: FieldError[], summarize: ProblemSummary = summarizeRequestProblems): DomainError {
  return new DomainError('validation_failed', summarize(errors), { errors });
}

export interface ParseOptions {
  /** How the message reads. Default `summarizeRequestProblems`. */
  summarize?: ProblemSummary;
  /** The path of a problem with the value as a whole. Default `(body)`. */
  rootName?: string;
}

/**
 * Parses a value with a schema, or throws `validation_failed` with field errors.
 *
 * @example const form = parseOrThrow(ServiceFormSchema, input, { summarize: listProblems });
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, options: ParseOptions = {}): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationFailed(fieldErrorsOf(result.error, options.rootName), options.summarize);
  return result.data;
}

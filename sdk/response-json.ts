/**
 * A response's body as JSON, or `undefined` when it is empty or not JSON (a
 * proxy's HTML error page, a cut connection's half body). The body is read
 * once, so the caller decides from the status what the value means. Shared
 * by the SDK and the server's Zoom client: both read answers from servers
 * that may not be what they claim.
 */
export async function readJsonOrUndefined(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

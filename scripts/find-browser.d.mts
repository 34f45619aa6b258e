export interface BrowserSearch {
  /** Default `process.platform`: `darwin` looks in the macOS places, anything else in Linux's. */
  platform?: string;
  /** Default the user's home directory (for ~/Applications on macOS). */
  home?: string;
  /** Playwright's own Chromium; default where playwright-core keeps it. An empty string skips it. */
  playwrightPath?: string;
}
export declare const CHROMIUM_ARGS: string[];
export declare function playwrightChromiumPath(): string | undefined;
export declare function browserCandidates(search?: BrowserSearch): string[];
export declare function findBrowser(options?: BrowserSearch & { env?: Record<string, string | undefined>; root?: string }): string | undefined;
export declare function noBrowserMessage(env?: Record<string, string | undefined>): string;

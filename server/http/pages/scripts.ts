/**
 * The pages' scripts, served as files by static-routes (`/assets/*.js`):
 * the pages' Content-Security-Policy allows no inline script.
 */
export const PAGE_SCRIPTS: Record<string, string> = {
  /** Settings → Embed: the "Copy snippet" button. */
  'settings.js': `document.getElementById('copy-snippet').addEventListener('click', async () => {
  const status = document.getElementById('copy-status');
  try {
    await navigator.clipboard.writeText(document.getElementById('embed-snippet').textContent);
    status.textContent = 'Copied.';
  } catch {
    status.textContent = 'Select the snippet and copy it.';
  }
});
`,
};

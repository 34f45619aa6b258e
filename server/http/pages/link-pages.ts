import { html, layout } from './layout.js';

/**
 * An email address shown to whoever opens a link: enough for the owner to
 * recognise it, not the whole address.
 *
 * @example maskEmail('maya@example.com') // 'm…@example.com'
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return `${email.slice(0, 1)}…${email.slice(at)}`;
}

/**
 * What opening an emailed sign-in link shows: a question and a button. Only
 * the button's POST uses the link, so a mail scanner that opens it leaves it
 * usable.
 */
export function confirmSignInPage(options: { maskedEmail: string; token: string; csrfToken: string }): string {
  return layout({
    title: 'Sign in',
    body: html`<h1>Sign in as ${options.maskedEmail}?</h1>
<section class="card">
  <form method="post" action="/auth/link">
    <input type="hidden" name="_csrf" value="${options.csrfToken}">
    <input type="hidden" name="token" value="${options.token}">
    <p>This link signs you in once, on this device.</p>
    <div class="actions"><button class="button" type="submit">Sign in</button></div>
  </form>
</section>`,
  });
}

/** After "Allow" on Zoom's page, from an emailed re-auth link: done, and no session granted. */
export function reauthorizedPage(zoomEmail: string): string {
  return layout({
    title: 'Zoom re-authorized',
    flash: { kind: 'success', message: 'Zoom re-authorized — customers can book again.' },
    body: html`<h1>Zoom is re-authorized</h1>
<section class="card"><p>Your Zoom account ${zoomEmail} is connected again. Customers can book you again.</p>
<p class="muted">Nothing else is needed. To see your dashboard, sign in.</p>
<div class="actions"><a class="button secondary" href="/sign-in?next=%2Fdashboard">Sign in to your dashboard</a></div></section>`,
  });
}

/** A re-auth link refused at Zoom's callback: the message says why, and what to do instead. */
export function reauthRefusedPage(message: string): string {
  return layout({
    title: 'Zoom not re-authorized',
    flash: { kind: 'error', message },
    body: html`<h1>Zoom was not re-authorized</h1>
<section class="card"><p>Nothing was changed.</p>
<div class="actions"><a class="button" href="/sign-in?next=%2Fsettings%23zoom">Sign in</a></div></section>`,
  });
}

/** A re-auth link for a specialist with no Zoom connection: a link only restores one, connecting needs a sign-in. */
export function nothingToRestorePage(): string {
  return reauthRefusedPage('No Zoom account is connected, so there is nothing to restore. Sign in and use Settings → Connect Zoom.');
}

/** Too many uses of sign-in links from one client address: when to try again, and the link stays usable meanwhile. */
export function tooManyLinkUsesPage(): string {
  return layout({
    title: 'Too many attempts',
    flash: { kind: 'error', message: 'Too many sign-in attempts from your network. Please wait 15 minutes and try again.' },
    body: html`<h1>Please wait a moment</h1>
<section class="card"><p>Your sign-in link was not used: it still works until it expires.</p>
<div class="actions"><a class="button secondary" href="/sign-in">Back to sign-in</a></div></section>`,
  });
}

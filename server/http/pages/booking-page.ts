import { embedSnippet } from './embed-snippet.js';
import { html, layout } from './layout.js';

/**
 * The specialist's hosted booking page (`/book/{slug}`): the booking widget
 * on a page of this server, for customers without a site of their own to
 * embed it on, and the link in the "did not go through" email. The widget
 * calls the API on this same origin, which the API always allows.
 */
export function bookingPage(specialist: { slug: string; name: string }): string {
  return layout({
    title: `Book ${specialist.name}`,
    body: html`<h1>Book a session with ${specialist.name}</h1>
${embedSnippet(specialist.slug)}`,
  });
}

/** `/book/{slug}` for a slug no specialist has. */
export function unknownBookingPage(): string {
  return layout({
    title: 'Booking page not found',
    body: html`<h1>This booking page does not exist</h1>
<section class="card"><p>Check the link you were given, or ask the specialist for theirs.</p></section>`,
  });
}

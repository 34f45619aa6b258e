import { Hono } from 'hono';
import type { LocalInbox } from '../email/local-inbox.js';
import { escapeHtml } from '../text/html.js';
import { loopbackOnly } from './loopback-host.js';
import { html, layout, SafeHtml } from './pages/layout.js';

/**
 * The demo's inbox: every email the demo sent, HTML and text, with working
 * links. The HTML part is shown in a sandboxed frame; its links open in the
 * whole window. Only for requests to a loopback name (the demo's).
 */
export function inboxRoutes(inbox: LocalInbox): Hono {
  const app = new Hono();
  // It shows every sign-in link: never to another machine, nor to a rebound DNS name.
  app.use(loopbackOnly());

  app.get('/', (c) => {
    const messages = inbox.messages().slice().reverse();
    const rows = messages.map(
      (m) => html`<tr><td><a href="/inbox/${String(m.id)}">${m.subject}</a></td><td>${m.to.join(', ')}</td><td>${m.date.toISOString().replace('T', ' ').slice(0, 19)} UTC</td></tr>`,
    );
    return c.html(
      layout({
        title: 'Local inbox',
        body: html`<h1>Local inbox</h1>
<p class="muted">Every email this demo sent (no real email leaves this machine). Newest first.</p>
${messages.length === 0 ? html`<div class="card"><p>No emails yet.</p></div>` : html`<table class="card inbox"><thead><tr><th scope="col">Subject</th><th scope="col">To</th><th scope="col">Sent</th></tr></thead><tbody>${rows}</tbody></table>`}`,
      }),
    );
  });

  app.get('/:id', (c) => {
    const message = inbox.messages().find((m) => String(m.id) === c.req.param('id'));
    if (!message) return c.html(layout({ title: 'Not found', body: html`<h1>No such email</h1><p><a href="/inbox">Back to the inbox</a></p>` }), 404);
    // <base target="_top">: a click on a link in the email navigates the whole window, as a mail app would.
    const srcdoc = message.html.replace(/<head>/i, '<head><base target="_top">');
    return c.html(
      layout({
        title: message.subject,
        body: html`<p><a href="/inbox">← Inbox</a></p>
<h1>${message.subject}</h1>
<p class="muted">From ${message.from} to ${message.to.join(', ')}</p>
${message.attachments.length ? html`<p>Attachments: ${message.attachments.map((a, i) => html`<a href="/inbox/${String(message.id)}/attachments/${String(i)}">${a.filename}</a> `)}</p>` : ''}
<h2>HTML</h2>
<iframe title="Email content" class="email" sandbox="allow-top-navigation-by-user-activation allow-popups" srcdoc="${srcdoc}" style="width:100%;height:640px;border:1px solid #e5e7eb;border-radius:12px;background:#fff"></iframe>
<h2>Plain text</h2>
<pre class="card" style="white-space:pre-wrap">${new SafeHtml(linkify(message.text))}</pre>`,
      }),
    );
  });

  app.get('/:id/attachments/:index', (c) => {
    const message = inbox.messages().find((m) => String(m.id) === c.req.param('id'));
    const attachment = message?.attachments[Number(c.req.param('index'))];
    if (!attachment) return c.text('Not found', 404);
    return c.body(attachment.content, 200, {
      'Content-Type': attachment.contentType,
      'Content-Disposition': `attachment; filename="${attachment.filename.replace(/"/g, '')}"`,
    });
  });

  return app;
}

/** Escapes text and turns its http(s) URLs into links. */
function linkify(text: string): string {
  return escapeHtml(text).replace(/https?:\/\/[^\s<]+/g, (url) => `<a href="${url}">${url}</a>`);
}

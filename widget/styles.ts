import { css } from 'lit';

/*
 * While an answer is on its way, the placeholder list pulses by its opacity:
 * one animation, which the compositor runs. A shimmer per placeholder
 * (background-position) started six animations on each service click and
 * repainted on the main thread every frame (issue #18, BENCHMARKS.md).
 */

export const styles = css`
  :host {
    --sb-brand-color: #4f46e5;
    --sb-brand-contrast: #ffffff;
    --sb-font-family: system-ui, -apple-system, 'Segoe UI', sans-serif;
    --sb-radius: 10px;
    --sb-background: #ffffff;
    --sb-foreground: #111827;
    --sb-muted: #4b5563;
    --sb-border: #d1d5db;
    --sb-surface: #f3f4f6;
    --sb-danger: #b91c1c;
    display: block;
    font-family: var(--sb-font-family);
    color: var(--sb-foreground);
    max-width: 560px;
  }
  :host([theme='dark']) {
    --sb-background: #111827;
    --sb-foreground: #f9fafb;
    --sb-muted: #d1d5db;
    --sb-border: #4b5563;
    --sb-surface: #1f2937;
    --sb-danger: #fca5a5;
    --sb-brand-color: #818cf8;
    --sb-brand-contrast: #111827;
  }
  @media (prefers-color-scheme: dark) {
    :host([theme='auto']) {
      --sb-background: #111827;
      --sb-foreground: #f9fafb;
      --sb-muted: #d1d5db;
      --sb-border: #4b5563;
      --sb-surface: #1f2937;
      --sb-danger: #fca5a5;
      --sb-brand-color: #818cf8;
      --sb-brand-contrast: #111827;
    }
  }
  [part~='container'] {
    background: var(--sb-background);
    border: 1px solid var(--sb-border);
    border-radius: var(--sb-radius);
    padding: 20px;
  }
  h2,
  h3 {
    margin: 0 0 12px;
    font-size: 1.2rem;
  }
  h2:focus,
  h3:focus {
    outline: none;
  }
  p {
    margin: 0 0 12px;
  }
  .muted {
    color: var(--sb-muted);
    font-size: 0.9rem;
  }
  ul {
    list-style: none;
    margin: 0;
    padding: 0;
    display: grid;
    gap: 8px;
  }
  button {
    font: inherit;
    cursor: pointer;
    border-radius: var(--sb-radius);
    border: 1px solid var(--sb-border);
    background: var(--sb-background);
    color: var(--sb-foreground);
    padding: 10px 14px;
    text-align: left;
  }
  button:hover {
    border-color: var(--sb-brand-color);
  }
  button:focus-visible,
  input:focus-visible,
  select:focus-visible,
  textarea:focus-visible,
  a:focus-visible {
    outline: 3px solid var(--sb-brand-color);
    outline-offset: 2px;
  }
  button[aria-pressed='true'] {
    background: var(--sb-brand-color);
    color: var(--sb-brand-contrast);
    border-color: var(--sb-brand-color);
  }
  .primary {
    background: var(--sb-brand-color);
    color: var(--sb-brand-contrast);
    border-color: var(--sb-brand-color);
    font-weight: 600;
    text-align: center;
  }
  .link {
    border: 0;
    background: none;
    padding: 0;
    color: var(--sb-brand-color);
    text-decoration: underline;
  }
  .service strong {
    display: block;
  }
  .days {
    display: flex;
    gap: 6px;
    overflow-x: auto;
    padding-bottom: 6px;
  }
  .days button {
    text-align: center;
    min-width: 64px;
    flex: none;
  }
  .slots {
    grid-template-columns: repeat(auto-fill, minmax(88px, 1fr));
  }
  .slots button {
    text-align: center;
  }
  label {
    display: block;
    font-weight: 600;
    margin: 12px 0 4px;
  }
  input,
  select,
  textarea {
    font: inherit;
    width: 100%;
    box-sizing: border-box;
    padding: 9px 10px;
    border: 1px solid var(--sb-border);
    border-radius: var(--sb-radius);
    background: var(--sb-background);
    color: var(--sb-foreground);
  }
  [aria-invalid='true'] {
    border-color: var(--sb-danger);
  }
  .error {
    color: var(--sb-danger);
    font-size: 0.9rem;
    margin: 4px 0 0;
  }
  .row {
    display: flex;
    gap: 8px;
    align-items: center;
    justify-content: space-between;
    flex-wrap: wrap;
    margin-top: 16px;
  }
  .notice {
    background: var(--sb-surface);
    border-radius: var(--sb-radius);
    padding: 10px 12px;
  }
  .skeleton {
    display: block;
    height: 44px;
    border-radius: var(--sb-radius);
    background: var(--sb-surface);
  }
  .placeholder {
    animation: pulse 1.6s ease-in-out infinite;
  }
  @keyframes pulse {
    50% {
      opacity: 0.5;
    }
  }
  @media (prefers-reduced-motion: reduce) {
    .placeholder {
      animation: none;
    }
  }
  dialog {
    border: 0;
    border-radius: var(--sb-radius);
    padding: 24px;
    max-width: 420px;
    background: var(--sb-background);
    color: var(--sb-foreground);
    font-family: var(--sb-font-family);
  }
  dialog::backdrop {
    background: rgb(17 24 39 / 0.55);
  }
  .notified {
    color: #047857;
    font-weight: 600;
  }
  :host([theme='dark']) .notified {
    color: #6ee7b7;
  }
`;

/// <reference types="mocha" />
import { emulateMedia, executeServerCommand, sendKeys } from '@web/test-runner-commands';
import { expect, oneEvent, waitUntil } from '@open-wc/testing';
import '../../widget/index.ts';
import type { SpecialistBooking } from '../../widget/specialist-booking.ts';

interface Specialist {
  slug: string;
  serviceIds: string[];
  zoomUserId?: string;
  apiBase: string;
  /** The same server through the stack's proxy, which can hold an answer back. */
  proxiedApiBase: string;
  email: string;
}

const command = <T>(name: string, payload: Record<string, unknown> = {}) => executeServerCommand<T, Record<string, unknown>>(name, payload);
/** `holdWindowMinutes: 0`: a request that meets a dead token is not held, whatever its time (see the stack). */
const createSpecialist = (connected = true, name?: string, holdWindowMinutes?: number) => command<Specialist>('create-specialist', { connected, name, holdWindowMinutes });

async function mount(s: Specialist, extra = ''): Promise<SpecialistBooking> {
  const container = document.createElement('div');
  container.innerHTML = `<specialist-booking specialist="${s.slug}" api-base="${s.apiBase}" ${extra}></specialist-booking>`;
  document.body.append(container);
  const el = container.querySelector('specialist-booking')!;
  await waitUntil(() => el.shadowRoot?.querySelector('[part~="service"], [part~="slot"], [part~="error"]'), 'widget did not load', { timeout: 10_000 });
  return el;
}

const $ = (el: SpecialistBooking, selector: string) => el.shadowRoot!.querySelector<HTMLElement>(selector);
const $$ = (el: SpecialistBooking, selector: string) => [...el.shadowRoot!.querySelectorAll<HTMLElement>(selector)];
const heading = (el: SpecialistBooking) => $(el, 'h2')!.textContent!.trim();

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * "Tuesday 8 January at 9:00": an instant as the widget says it in en-GB (as
 * on its time buttons: the hour not padded), in Asia/Kolkata (UTC+05:30, no summer time).
 */
function inKolkata(iso: string): string {
  const d = new Date(Date.parse(iso) + 330 * 60_000);
  return `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} at ${d.getUTCHours()}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

function deepActiveElement(): Element | null {
  let active = document.activeElement;
  while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
  return active;
}

/**
 * Picks a service and its second free time. The first is the next step past
 * the real clock (no notice in these tests) and may pass while a test types.
 */
async function pickSlot(el: SpecialistBooking, serviceIndex = 0): Promise<void> {
  const loaded = oneEvent(el, 'slots-loaded');
  $$(el, '[part~="service"]')[serviceIndex]!.click();
  await loaded;
  await el.updateComplete;
  $$(el, '[part~="slot"]')[1]!.click();
  await el.updateComplete;
}

/** The button that shows the list of time zones: the list itself is rendered only on demand. */
const changeZoneButton = (el: SpecialistBooking) => $$(el, 'button').find((b) => b.textContent!.trim() === 'Change time zone');

/** Opens the time-zone list and chooses the first of `zones` it offers (ICU names some zones by an older name). */
async function chooseTimeZone(el: SpecialistBooking, zones: string[]): Promise<void> {
  if (!$(el, '#tz')) {
    changeZoneButton(el)!.click();
    await el.updateComplete;
  }
  const select = $(el, '#tz') as HTMLSelectElement;
  select.value = [...select.options].find((o) => zones.includes(o.value))!.value;
  select.dispatchEvent(new Event('change'));
  await el.updateComplete;
}

async function fill(el: SpecialistBooking, name: string, email: string): Promise<void> {
  for (const [id, value] of [
    ['#sb-name', name],
    ['#sb-email', email],
  ] as const) {
    const input = $(el, id) as HTMLInputElement;
    input.value = value;
    input.dispatchEvent(new Event('input'));
  }
  await el.updateComplete;
}

afterEach(() => {
  document.body.innerHTML = '';
});

describe('<specialist-booking>', () => {
  it('registers once; a second copy of the script and an early tag cause no error', async () => {
    const before = customElements.get('specialist-booking');
    // @ts-expect-error: the same module under another URL, as a second <script> would load it
    await import('../../widget/index.ts?second-copy');
    expect(customElements.get('specialist-booking')).to.equal(before);
    const s = await createSpecialist();
    const el = await mount(s);
    expect(el).to.be.instanceOf(before!);
    expect(heading(el)).to.equal('Choose a session');
  });

  it('books end to end: service, time, details, confirmation, with the events’ payloads', async () => {
    const s = await createSpecialist();
    const el = await mount(s);
    expect($$(el, '[part~="service"]').map((b) => b.textContent!.replace(/\s+/g, ' ').trim())).to.deep.equal([
      'Intro call 30 min · Free',
      'Deep dive 60 min · €90.00',
    ]);
    const loaded = oneEvent(el, 'slots-loaded');
    $$(el, '[part~="service"]')[0]!.click();
    const slotsEvent = await loaded;
    expect(slotsEvent.detail.serviceId).to.equal(s.serviceIds[0]);
    expect(slotsEvent.detail.count).to.be.greaterThan(100);
    await el.updateComplete;
    expect(heading(el)).to.equal('Pick a time for Intro call');
    expect(changeZoneButton(el)!.parentElement!.textContent!.replace(/\s+/g, ' ').trim()).to.equal(
      `Times shown in ${Intl.DateTimeFormat().resolvedOptions().timeZone.replace(/_/g, ' ')} Change time zone`,
    );
    $$(el, '[part~="slot"]')[1]!.click(); // not the first: see pickSlot
    await el.updateComplete;
    expect(heading(el)).to.equal('Your details');
    await fill(el, 'Wanda Widget', 'wanda@example.test');
    const confirmed = oneEvent(el, 'booking-confirmed');
    $(el, '[data-confirm]')!.click();
    const { detail } = await confirmed;
    expect(detail.bookingId).to.match(/^[0-9a-f-]{36}$/);
    expect(detail.service).to.deep.equal({ id: s.serviceIds[0], title: 'Intro call' });
    expect(Date.parse(detail.end) - Date.parse(detail.start)).to.equal(30 * 60_000);
    await el.updateComplete;
    expect(heading(el)).to.equal('You’re booked ✓');
    expect($(el, '[part~="success"]')!.textContent).to.contain('The Zoom link is in your email (wanda@example.test).');
    expect(($(el, '[part~="success"] a') as HTMLAnchorElement).href).to.equal(detail.zoomJoinUrl);
    expect(await command<number>('zoom-meetings', { zoomUserId: s.zoomUserId })).to.equal(1);
    expect(await command<string[]>('emails-to', { address: 'wanda@example.test' })).to.deep.equal(['Confirmed: Intro call with Rosa Martín']);
  });

  it('offers "Add to calendar" links for Google Calendar and Outlook with the booking’s times, title and join link', async () => {
    const s = await createSpecialist();
    const el = await mount(s);
    await pickSlot(el);
    await fill(el, 'Cal Endar', 'cal@example.test');
    const confirmed = oneEvent(el, 'booking-confirmed');
    $(el, '[data-confirm]')!.click();
    const { detail } = await confirmed;
    await el.updateComplete;
    const links = $$(el, '[part~="calendar-link"]') as HTMLAnchorElement[];
    expect(links.map((a) => [a.textContent!.trim(), a.target, a.rel])).to.deep.equal([
      ['Google Calendar', '_blank', 'noopener'],
      ['Outlook', '_blank', 'noopener'],
    ]);
    const utc = (iso: string) => new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const google = new URL(links[0]!.href);
    expect(google.origin + google.pathname).to.equal('https://calendar.google.com/calendar/render');
    expect(Object.fromEntries(google.searchParams)).to.deep.equal({
      action: 'TEMPLATE',
      text: 'Intro call with Rosa Martín',
      dates: `${utc(detail.start).replace(/[-:]/g, '')}/${utc(detail.end).replace(/[-:]/g, '')}`,
      details: `Join on Zoom: ${detail.zoomJoinUrl}`,
      location: detail.zoomJoinUrl,
    });
    const outlook = new URL(links[1]!.href);
    expect(outlook.origin + outlook.pathname).to.equal('https://outlook.live.com/calendar/0/deeplink/compose');
    expect(Object.fromEntries(outlook.searchParams)).to.deep.equal({
      path: '/calendar/action/compose',
      rru: 'addevent',
      subject: 'Intro call with Rosa Martín',
      startdt: utc(detail.start),
      enddt: utc(detail.end),
      body: `Join on Zoom: ${detail.zoomJoinUrl}`,
      location: detail.zoomJoinUrl,
    });
  });

  it('shows the re-auth modal when the specialist’s Zoom needs re-authorizing, and gives focus back on Escape', async () => {
    const s = await createSpecialist(false, undefined, 0);
    const el = await mount(s);
    await pickSlot(el, 1);
    await fill(el, 'Ravi Reauth', 'ravi@example.test');
    const reauth = oneEvent(el, 'booking-reauth-required');
    $(el, '[data-confirm]')!.click();
    const { detail } = await reauth;
    expect(detail.specialistNotified).to.equal(true);
    expect(detail.service.title).to.equal('Deep dive');
    expect(detail.message).to.contain('A notification has been sent to the specialist');
    expect(detail.hold).to.equal(undefined);
    await el.updateComplete;
    const dialog = $(el, 'dialog') as HTMLDialogElement;
    expect(dialog.open).to.equal(true);
    expect(dialog.matches(':modal')).to.equal(true);
    expect(dialog.getAttribute('aria-labelledby')).to.equal('reauth-title');
    expect($(el, '#reauth-title')!.textContent).to.equal('🔄 Zoom Authorization Required');
    expect(dialog.textContent).to.contain('Rosa Martín’s video link needs to be reconnected before this time can be booked.');
    expect($(el, '.notified')!.textContent).to.equal('✓ Rosa Martín was notified by email');
    expect(dialog.textContent).to.contain('You can try again later, or choose another session.');
    // Nothing was held: no holding line.
    expect($(el, '.held')).to.equal(null);
    expect(dialog.textContent).not.to.contain('holding');
    expect(dialog.getAttribute('aria-describedby')).to.equal('reauth-body');
    expect(deepActiveElement()!.textContent).to.equal('Got it, thanks');
    // Focus stays inside while open: Tab does not reach the page behind.
    await sendKeys({ press: 'Tab' });
    expect(dialog.contains(deepActiveElement()) || deepActiveElement() === document.body).to.equal(true);
    await sendKeys({ press: 'Escape' });
    await waitUntil(() => !$(el, 'dialog'));
    expect(deepActiveElement()!.hasAttribute('data-confirm')).to.equal(true);
    expect($(el, '.notice')!.textContent).to.contain('This time could not be booked yet.');
    expect(await command<string[]>('emails-to', { address: s.email })).to.deep.equal(['⚠️ Action Required: Re-authorize Your Zoom Account - Deep dive']);
  });

  it('closes the modal with "Got it, thanks"', async () => {
    const s = await createSpecialist(false, undefined, 0);
    const el = await mount(s);
    await pickSlot(el);
    await fill(el, 'Gita', 'gita@example.test');
    const reauth = oneEvent(el, 'booking-reauth-required');
    $(el, '[data-confirm]')!.click();
    await reauth;
    await el.updateComplete;
    ($(el, 'dialog .primary') as HTMLButtonElement).click();
    await waitUntil(() => !$(el, 'dialog'));
    expect(deepActiveElement()!.hasAttribute('data-confirm')).to.equal(true);
  });

  it('with a dead token, holds the time: the modal says until when, and after it the held time is no longer offered', async () => {
    const s = await createSpecialist();
    await command('revoke-zoom', { zoomUserId: s.zoomUserId });
    const el = await mount(s, 'locale="en-GB"');
    let loaded = oneEvent(el, 'slots-loaded');
    $$(el, '[part~="service"]')[0]!.click();
    await loaded;
    await el.updateComplete;
    // The customer's zone, chosen on the page: times are said in it (India: +05:30 all year).
    await chooseTimeZone(el, ['Asia/Kolkata', 'Asia/Calcutta']);
    // A time on the third day shown: over a day away, so the 24-hour window ends first.
    $$(el, '[part~="day"]')[2]!.click();
    await el.updateComplete;
    $$(el, '[part~="slot"]')[0]!.click();
    await el.updateComplete;
    const start = (el as unknown as { selectedSlot: { start: string } }).selectedSlot.start;
    await fill(el, 'Hana Held', 'hana@example.test');
    const reauth = oneEvent(el, 'booking-reauth-required');
    const asked = Date.now();
    $(el, '[data-confirm]')!.click();
    const { detail } = await reauth;
    expect(detail.specialistNotified).to.equal(true);
    expect(detail.start).to.equal(start);
    expect(detail.hold!.id).to.match(/^[0-9a-f-]{36}$/);
    const expiresAt = Date.parse(detail.hold!.expiresAt);
    expect(expiresAt).to.be.within(asked + 86_400_000 - 1000, Date.now() + 86_400_000);
    expect(await command<string>('booking-status', { id: detail.hold!.id })).to.equal('held');
    await el.updateComplete;
    const dialog = $(el, 'dialog') as HTMLDialogElement;
    expect(dialog.open).to.equal(true);
    expect($(el, '#reauth-title')!.textContent).to.equal('🔄 Zoom Authorization Required');
    expect($(el, '#reauth-body')!.textContent).to.equal('Rosa Martín’s video link needs to be reconnected before this time can be confirmed.');
    expect($(el, '.notified')!.textContent).to.equal('✓ Rosa Martín was notified by email');
    expect($(el, '.held')!.textContent).to.equal(
      `We’re holding ${inKolkata(start)} for you until ${inKolkata(detail.hold!.expiresAt)}. You’ll get an email as soon as it’s confirmed; there is nothing else to do.`,
    );
    expect(dialog.getAttribute('aria-describedby')).to.equal('reauth-body reauth-held');
    expect(dialog.textContent).not.to.contain('Nothing was booked');
    expect(dialog.textContent).not.to.contain('try again later');
    expect(await command<string[]>('emails-to', { address: 'hana@example.test' })).to.deep.equal(["We're holding Intro call with Rosa Martín for you"]);

    loaded = oneEvent(el, 'slots-loaded');
    ($(el, 'dialog .primary') as HTMLButtonElement).click();
    await loaded;
    await el.updateComplete;
    expect(heading(el)).to.equal('Pick a time for Intro call');
    expect(deepActiveElement()!.textContent).to.equal('Pick a time for Intro call');
    expect($(el, '.notice')!.textContent).to.equal(`We’re holding ${inKolkata(start)} for you. You’ll get an email as soon as it’s confirmed.`);
    expect(el.shadowRoot!.textContent).not.to.contain('could not be booked');
    const slots = (el as unknown as { slots: { start: string }[] }).slots;
    expect(slots.length).to.be.greaterThan(0);
    expect(slots.some((slot) => slot.start === start)).to.equal(false);
  });

  it('lists the time zones only when asked, focuses the list, and says the times in the zone chosen', async () => {
    const s = await createSpecialist();
    const el = await mount(s, 'locale="en-GB"');
    const loaded = oneEvent(el, 'slots-loaded');
    $$(el, '[part~="service"]')[0]!.click();
    await loaded;
    await el.updateComplete;
    expect($(el, '#tz'), 'no list of zones before the customer asks').to.equal(null);
    expect($(el, 'option')).to.equal(null);
    changeZoneButton(el)!.click();
    await el.updateComplete;
    const select = $(el, '#tz') as HTMLSelectElement;
    expect(select.value).to.equal(Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(select.options.length).to.be.greaterThan(400);
    expect($(el, 'label[for="tz"]')!.textContent).to.equal('Times shown in');
    expect(deepActiveElement()).to.equal(select);
    await chooseTimeZone(el, ['Asia/Kolkata', 'Asia/Calcutta']);
    const slots = (el as unknown as { slots: { start: string }[] }).slots;
    // The first day in Kolkata starts with the first free time; the button says it in Kolkata's clock.
    $$(el, '[part~="day"]')[0]!.click();
    await el.updateComplete;
    expect($$(el, '[part~="slot"]')[0]!.textContent).to.equal(inKolkata(slots[0]!.start).split(' at ')[1]);
    const kolkataDay = new Date(Date.parse(slots[0]!.start) + 330 * 60_000).toISOString().slice(0, 10);
    const sameDay = slots.filter((slot) => new Date(Date.parse(slot.start) + 330 * 60_000).toISOString().slice(0, 10) === kolkataDay);
    expect($$(el, '[part~="slot"]').map((b) => b.textContent)).to.deep.equal(sameDay.map((slot) => inKolkata(slot.start).split(' at ')[1]));
  });

  it('when the slot was just taken, says so and shows the times still free', async () => {
    const s = await createSpecialist();
    const el = await mount(s);
    await pickSlot(el);
    const taken = (el as unknown as { selectedSlot: { start: string } }).selectedSlot.start;
    expect(await command<number>('book-directly', { slug: s.slug, serviceId: s.serviceIds[0], start: taken })).to.equal(201);
    await fill(el, 'Late Larry', 'larry@example.test');
    const reloaded = oneEvent(el, 'slots-loaded');
    $(el, '[data-confirm]')!.click();
    await reloaded;
    await el.updateComplete;
    expect(heading(el)).to.equal('Pick a time for Intro call');
    expect($(el, '.notice')!.textContent).to.equal('Sorry, that time was just taken. Here are the times still free.');
    const slots = (el as unknown as { slots: { start: string }[] }).slots;
    expect(slots.some((slot) => slot.start === taken)).to.equal(false);
  });

  it('says in plain words when there were too many booking attempts, and how long to wait', async function () {
    // The limit counts per UTC day on the real clock: not within 20 s of midnight UTC, where it would start over.
    this.timeout(60_000);
    await command('wait-for-room-in-window', { windowMs: 86_400_000, marginMs: 20_000 });
    const s = await createSpecialist();
    const el = await mount(s);
    await pickSlot(el);
    // book-directly books as else@example.test: five bookings are the stack's limit per customer per day.
    const slots = (el as unknown as { slots: { start: string }[] }).slots;
    for (const slot of slots.slice(2, 7)) expect(await command<number>('book-directly', { slug: s.slug, serviceId: s.serviceIds[0], start: slot.start })).to.equal(201);
    await fill(el, 'Someone Else', 'else@example.test');
    const failed = oneEvent(el, 'booking-failed');
    $(el, '[data-confirm]')!.click();
    const { detail } = await failed;
    expect(detail.code).to.equal('rate_limited');
    expect(detail.message).to.match(/^Too many booking attempts from your connection\. Please try again in (1 minute|\d+ minutes|\d+ hours)\.$/);
    await el.updateComplete;
    expect($(el, '[part~="error"]')!.textContent).to.contain(detail.message);
    expect(await command<number>('zoom-meetings', { zoomUserId: s.zoomUserId })).to.equal(5);
  });

  it('says in plain words when Zoom could not make the meeting, and books with "Try again"', async () => {
    const s = await createSpecialist();
    const el = await mount(s);
    await pickSlot(el);
    await fill(el, 'Patient Pat', 'pat@example.test');
    await command('fail-zoom', { count: 4, status: 503 }); // the server's four attempts
    const failed = oneEvent(el, 'booking-failed');
    $(el, '[data-confirm]')!.click();
    const { detail } = await failed;
    expect(detail).to.deep.equal({
      code: 'zoom_unavailable',
      message: 'The video call for this session could not be set up just now, so nothing was booked. Please try again in 1 minute.',
    });
    await el.updateComplete;
    expect($(el, '[part~="error"]')!.textContent).to.contain(detail.message);
    expect(await command<number>('zoom-meetings', { zoomUserId: s.zoomUserId })).to.equal(0);
    const confirmed = oneEvent(el, 'booking-confirmed');
    $(el, '[part~="error"] button')!.click();
    await confirmed;
    expect(await command<number>('zoom-meetings', { zoomUserId: s.zoomUserId })).to.equal(1);
  });

  it('validates inline and moves focus to the first problem', async () => {
    const s = await createSpecialist();
    const el = await mount(s);
    await pickSlot(el);
    await fill(el, '', 'not-an-email');
    $(el, '[data-confirm]')!.click();
    await el.updateComplete;
    await waitUntil(() => $(el, '#sb-name-error'));
    expect($(el, '#sb-name')!.getAttribute('aria-invalid')).to.equal('true');
    expect($(el, '#sb-name')!.getAttribute('aria-describedby')).to.equal('sb-name-error');
    expect($(el, '#sb-name-error')!.textContent).to.equal('Enter your name');
    expect($(el, '#sb-email-error')!.textContent).to.equal('Enter a valid email address');
    expect(deepActiveElement()!.id).to.equal('sb-name');
  });

  it('prefills name and email, and preselects a service', async () => {
    const s = await createSpecialist();
    const el = await mount(s, `prefill-name="Pia Prefill" prefill-email="pia@example.test" service="${s.serviceIds[1]}"`);
    await waitUntil(() => $$(el, '[part~="slot"]').length > 0);
    expect(heading(el)).to.equal('Pick a time for Deep dive');
    $$(el, '[part~="slot"]')[1]!.click(); // not the first: see pickSlot
    await el.updateComplete;
    expect(($(el, '#sb-name') as HTMLInputElement).value).to.equal('Pia Prefill');
    expect(($(el, '#sb-email') as HTMLInputElement).value).to.equal('pia@example.test');
  });

  it('follows the theme attribute and the documented custom properties', async () => {
    const s = await createSpecialist();
    const light = await mount(s);
    expect(getComputedStyle($(light, '[part~="container"]')!).backgroundColor).to.equal('rgb(255, 255, 255)');
    const dark = await mount(s, 'theme="dark" style="--sb-radius: 2px; --sb-brand-color: rgb(200, 0, 100)"');
    const frame = $(dark, '[part~="container"]')!;
    expect(getComputedStyle(frame).backgroundColor).to.equal('rgb(17, 24, 39)');
    expect(getComputedStyle(frame).borderTopLeftRadius).to.equal('2px');
    await pickSlot(dark);
    expect(getComputedStyle($(dark, '[data-confirm]')!).backgroundColor).to.equal('rgb(200, 0, 100)');
  });

  it('can be booked with the keyboard alone', async () => {
    const s = await createSpecialist();
    const el = await mount(s);
    const tabTo = async (matches: (e: Element) => boolean) => {
      for (let i = 0; i < 40 && !(deepActiveElement() && matches(deepActiveElement()!)); i++) await sendKeys({ press: 'Tab' });
      expect(matches(deepActiveElement()!), 'focus reached its target').to.equal(true);
    };
    await tabTo((e) => e.getAttribute('part') === 'service');
    const loaded = oneEvent(el, 'slots-loaded');
    await sendKeys({ press: 'Enter' });
    await loaded;
    await el.updateComplete;
    expect(deepActiveElement()!.tagName).to.equal('H2');
    await tabTo((e) => e.getAttribute('part') === 'slot');
    await sendKeys({ press: 'Enter' });
    await el.updateComplete;
    await tabTo((e) => e.id === 'sb-name');
    await sendKeys({ type: 'Kim Keyboard' });
    await sendKeys({ press: 'Tab' });
    await sendKeys({ type: 'kim@example.test' });
    await tabTo((e) => e.hasAttribute('data-confirm'));
    const confirmed = oneEvent(el, 'booking-confirmed');
    await sendKeys({ press: 'Enter' });
    await confirmed;
    await el.updateComplete;
    expect(deepActiveElement()!.textContent).to.equal('You’re booked ✓');
  });

  it('reports an unreachable server with booking-failed and offers a retry', async () => {
    const failed = new Promise<CustomEvent>((resolve) => document.addEventListener('booking-failed', (e) => resolve(e as CustomEvent), { once: true }));
    const container = document.createElement('div');
    container.innerHTML = '<specialist-booking specialist="nobody" api-base="http://127.0.0.1:9"></specialist-booking>';
    document.body.append(container);
    const { detail } = await failed;
    expect(detail).to.deep.equal({ code: 'network_error', message: 'We could not reach the booking service. Check your connection and try again.' });
    const el = container.querySelector('specialist-booking')!;
    await el.updateComplete;
    expect($(el, '[part~="error"] button')!.textContent).to.equal('Try again');
  });

  it('has no serious or critical accessibility violations', async () => {
    await new Promise<void>((resolve, reject) => {
      const script = document.createElement('script');
      script.src = '/node_modules/axe-core/axe.min.js';
      script.onload = () => resolve();
      script.onerror = () => reject(new Error('axe-core did not load'));
      document.head.append(script);
    });
    const axe = (window as unknown as { axe: { run(ctx: Element): Promise<{ violations: { id: string; impact: string }[] }> } }).axe;
    const s = await createSpecialist();
    const el = await mount(s);
    const serious = async () => (await axe.run(el)).violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
    expect(await serious()).to.deep.equal([]);
    const loaded = oneEvent(el, 'slots-loaded');
    $$(el, '[part~="service"]')[0]!.click();
    await loaded;
    await el.updateComplete;
    expect(await serious()).to.deep.equal([]);
    changeZoneButton(el)!.click();
    await el.updateComplete;
    expect(await serious()).to.deep.equal([]);
    $$(el, '[part~="slot"]')[1]!.click();
    await el.updateComplete;
    expect(await serious()).to.deep.equal([]);
  });
});

describe('<specialist-booking> when the page changes it after it is attached', () => {
  /** Attached with no attributes, then given properties, as React (through @lit/react) and other frameworks do. */
  function attachThenSet(properties: Partial<Pick<SpecialistBooking, 'specialist' | 'apiBase' | 'service'>>): SpecialistBooking {
    const el = document.createElement('specialist-booking');
    document.body.append(el);
    Object.assign(el, properties);
    return el;
  }

  it('loads the specialist set as a property, and loads again when `specialist` or `api-base` changes', async () => {
    const rosa = await createSpecialist();
    const ada = await createSpecialist(true, 'Ada Lovelace');
    const el = attachThenSet({ apiBase: rosa.apiBase, specialist: rosa.slug });
    await waitUntil(() => $(el, '[part~="header"]')?.textContent === 'Rosa Martín', 'the first specialist did not load', { timeout: 10_000 });
    expect(heading(el)).to.equal('Choose a session');
    el.specialist = ada.slug;
    await waitUntil(() => $(el, '[part~="header"]')?.textContent === 'Ada Lovelace', 'the second specialist did not load', { timeout: 10_000 });
    expect(heading(el)).to.equal('Choose a session');
    el.apiBase = ada.proxiedApiBase;
    expect(await command<boolean>('wait-for-request', { path: `/api/v1/specialists/${ada.slug}` })).to.equal(true);
    await waitUntil(() => $$(el, '[part~="service"]').length === 2, 'the profile did not load through the new api-base', { timeout: 10_000 });
    expect($(el, '[part~="header"]')!.textContent).to.equal('Ada Lovelace');
  });

  it('shows the times of the service set after it is attached, follows each change, and leaves focus where it was', async () => {
    const s = await createSpecialist();
    const pageButton = document.createElement('button');
    pageButton.textContent = 'The page’s own control';
    document.body.append(pageButton);
    const el = await mount(s);
    pageButton.focus();
    let loaded = oneEvent(el, 'slots-loaded');
    el.service = s.serviceIds[1]!;
    expect((await loaded).detail.serviceId).to.equal(s.serviceIds[1]);
    await el.updateComplete;
    expect(heading(el)).to.equal('Pick a time for Deep dive');
    loaded = oneEvent(el, 'slots-loaded');
    el.service = s.serviceIds[0]!;
    expect((await loaded).detail.serviceId).to.equal(s.serviceIds[0]);
    await el.updateComplete;
    expect(heading(el)).to.equal('Pick a time for Intro call');
    el.service = '';
    await el.updateComplete;
    expect(heading(el)).to.equal('Choose a session');
    expect(document.activeElement).to.equal(pageButton);
  });

  it('asks for a preselected service’s times together with the profile, not after it', async () => {
    const s = await createSpecialist();
    const slotsPath = `/services/${s.serviceIds[1]}/slots`;
    // Both answers are held back: the times must be asked for while the profile is still on its way.
    await command('hold-next-request');
    await command('hold-next-request');
    const el = attachThenSet({ apiBase: s.proxiedApiBase, specialist: s.slug, service: s.serviceIds[1]! });
    // Listened for before anything is let go: the answers can reach the widget before the command that lets them go returns.
    const loaded = oneEvent(el, 'slots-loaded');
    try {
      expect(await command<boolean>('wait-for-request', { path: `/api/v1/specialists/${s.slug}` })).to.equal(true);
      expect(await command<boolean>('wait-for-request', { path: slotsPath }), 'the times were asked for before the profile answered').to.equal(true);
      expect(heading(el)).to.equal('Loading…');
    } finally {
      // Held answers left behind would hold up the next tests' requests.
      await command('release-held-requests', { path: slotsPath }).catch(() => undefined);
    }
    expect((await loaded).detail.serviceId).to.equal(s.serviceIds[1]);
    await el.updateComplete;
    expect(heading(el)).to.equal('Pick a time for Deep dive');
    expect($$(el, '[part~="slot"]').length).to.be.greaterThan(0);
  });

  it('with a preselected service the profile does not offer, drops the times asked for and lists the services', async () => {
    const s = await createSpecialist();
    const el = attachThenSet({ apiBase: s.apiBase, specialist: s.slug, service: 'no-such-service' });
    await waitUntil(() => $$(el, '[part~="service"]').length === 2, 'the services did not show', { timeout: 10_000 });
    expect(heading(el)).to.equal('Choose a session');
    expect($(el, '[part~="error"]')).to.equal(null);
  });

  it('drops the slot list of a service the page has moved away from, however late it comes', async () => {
    const s = await createSpecialist();
    const el = await mount({ ...s, apiBase: s.proxiedApiBase });
    const loadedFor: string[] = [];
    el.addEventListener('slots-loaded', (e) => loadedFor.push(e.detail.serviceId));
    const stalePath = `/services/${s.serviceIds[0]}/slots`;
    await command('hold-next-request');
    el.service = s.serviceIds[0]!;
    expect(await command<boolean>('wait-for-request', { path: stalePath })).to.equal(true);
    const loaded = oneEvent(el, 'slots-loaded');
    el.service = s.serviceIds[1]!;
    await loaded;
    // The held answer goes out now, after the newer one; the widget had already closed its request.
    expect(await command<boolean>('release-held-requests', { path: stalePath }), 'the stale answer reached the widget').to.equal(false);
    await el.updateComplete;
    expect(heading(el)).to.equal('Pick a time for Deep dive');
    expect(loadedFor).to.deep.equal([s.serviceIds[1]]);
    const slots = (el as unknown as { slots: { start: string; end: string }[] }).slots;
    expect(slots.length).to.be.greaterThan(0);
    expect(slots.every((slot) => Date.parse(slot.end) - Date.parse(slot.start) === 60 * 60_000)).to.equal(true);
  });

  it('drops the profile of a specialist the page has moved away from, however late it comes', async () => {
    const rosa = await createSpecialist();
    const ada = await createSpecialist(true, 'Ada Lovelace');
    const stalePath = `/api/v1/specialists/${rosa.slug}`;
    await command('hold-next-request');
    const el = attachThenSet({ apiBase: rosa.proxiedApiBase, specialist: rosa.slug });
    expect(await command<boolean>('wait-for-request', { path: stalePath })).to.equal(true);
    el.specialist = ada.slug;
    await waitUntil(() => $$(el, '[part~="service"]').length === 2, 'the second specialist did not load', { timeout: 10_000 });
    expect(await command<boolean>('release-held-requests', { path: stalePath }), 'the stale answer reached the widget').to.equal(false);
    await el.updateComplete;
    expect($(el, '[part~="header"]')!.textContent).to.equal('Ada Lovelace');
  });

  it('while it waits, pulses one placeholder by its opacity alone, and holds it still for reduced motion', async () => {
    /** What moves in the widget: each running animation's element and the properties it animates. */
    const moving = (el: SpecialistBooking) =>
      el.shadowRoot!.getAnimations().map((animation) => {
        const effect = animation.effect as KeyframeEffect;
        const properties = effect.getKeyframes().flatMap((frame) => Object.keys(frame).filter((key) => !['offset', 'computedOffset', 'easing', 'composite'].includes(key)));
        return { element: `${effect.target!.tagName.toLowerCase()}.${[...effect.target!.classList].join('.')}`, properties: [...new Set(properties)] };
      });
    try {
      for (const reducedMotion of ['no-preference', 'reduce'] as const) {
        await emulateMedia({ reducedMotion });
        const s = await createSpecialist();
        const profilePath = `/api/v1/specialists/${s.slug}`;
        const slotsPath = `/services/${s.serviceIds[1]}/slots`;
        await command('hold-next-request');
        const el = attachThenSet({ apiBase: s.proxiedApiBase, specialist: s.slug });
        expect(await command<boolean>('wait-for-request', { path: profilePath })).to.equal(true);
        await el.updateComplete;
        expect(heading(el)).to.equal('Loading…');
        expect(moving(el), `the loading view, ${reducedMotion}`).to.deep.equal(reducedMotion === 'reduce' ? [] : [{ element: 'ul.placeholder', properties: ['opacity'] }]);
        await command('release-held-requests', { path: profilePath });
        await waitUntil(() => $$(el, '[part~="service"]').length === 2, 'the services did not show', { timeout: 10_000 });
        expect(moving(el)).to.deep.equal([]);

        await command('hold-next-request');
        $$(el, '[part~="service"]')[1]!.click();
        expect(await command<boolean>('wait-for-request', { path: slotsPath })).to.equal(true);
        await el.updateComplete;
        expect(heading(el)).to.equal('Pick a time for Deep dive');
        expect(moving(el), `the times loading, ${reducedMotion}`).to.deep.equal(reducedMotion === 'reduce' ? [] : [{ element: 'ul.slots.placeholder', properties: ['opacity'] }]);
        const loaded = oneEvent(el, 'slots-loaded');
        await command('release-held-requests', { path: slotsPath });
        await loaded;
        await el.updateComplete;
        expect(moving(el)).to.deep.equal([]);
        el.remove();
      }
    } finally {
      await emulateMedia({ reducedMotion: 'no-preference' });
    }
  });

  it('formats with the `locale` and paints with the `theme` set after it is attached', async () => {
    const s = await createSpecialist();
    const el = await mount(s);
    const deepDive = () => $$(el, '[part~="service"]')[1]!.textContent!.replace(/\s+/g, ' ').trim();
    expect(deepDive()).to.equal('Deep dive 60 min · €90.00');
    el.locale = 'de-DE';
    el.theme = 'dark';
    await el.updateComplete;
    expect(deepDive()).to.equal('Deep dive 60 min · 90,00 €');
    expect(getComputedStyle($(el, '[part~="container"]')!).backgroundColor).to.equal('rgb(17, 24, 39)');
  });
});

describe('<specialist-booking> placed by the embed snippet', () => {
  it('takes its first answers from the snippet’s preload hints: one request each to the booking server, on another origin', async () => {
    const s = await createSpecialist();
    const serviceId = s.serviceIds[1]!;
    const profilePath = `/api/v1/specialists/${s.slug}`;
    const slotsPath = `${profilePath}/services/${serviceId}/slots`;
    const snippet = await command<string>('embed-snippet', { slug: s.slug, serverUrl: s.proxiedApiBase, serviceId });
    expect(snippet).to.contain(`<link rel="preload" href="${s.proxiedApiBase}${slotsPath}" as="fetch" crossorigin>`);
    performance.clearResourceTimings();
    // As a page's HTML has it; the script in it does not run again here (the widget is loaded already).
    const container = document.createElement('div');
    container.innerHTML = snippet;
    document.body.append(container);
    const el = container.querySelector('specialist-booking')!;
    await waitUntil(() => $$(el, '[part~="slot"]').length > 0, 'the preselected service’s times did not show', { timeout: 10_000 });
    expect(heading(el)).to.equal('Pick a time for Deep dive');
    // The server was asked once for each: the widget's own requests were answered by the hints'.
    expect(await command<string[]>('proxied-requests', { path: profilePath })).to.deep.equal(['GET']);
    expect(await command<string[]>('proxied-requests', { path: slotsPath })).to.deep.equal(['GET']);
    const initiators = (path: string) => performance.getEntriesByName(`${s.proxiedApiBase}${path}`).map((e) => (e as PerformanceResourceTiming).initiatorType);
    expect(initiators(profilePath)).to.deep.equal(['link']);
    expect(initiators(slotsPath)).to.deep.equal(['link']);
  });
});

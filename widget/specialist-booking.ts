import { html, LitElement, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { createBookingClient, type BookingClient, type Profile, type SlotList } from '../sdk/client.js';
import { googleCalendarUrl, outlookCalendarUrl } from '../sdk/calendar-links.js';
import { BookingApiError } from '../sdk/errors.js';
import { randomIdempotencyKey } from '../sdk/idempotency-key.js';
import type { Booking, Hold, Service, Slot } from '../sdk/contract.js';
import type { BookingConfirmedDetail, BookingFailedDetail, BookingReauthRequiredDetail, SlotsLoadedDetail } from './events.js';
import { styles } from './styles.js';

type View = 'loading' | 'services' | 'slots' | 'details' | 'done' | 'error';

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/;

/** Events bubble and cross the shadow boundary, so a page can listen on any ancestor. */
function fire<T>(target: EventTarget, name: string, detail: T): void {
  target.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
}

/**
 * One formatter per locale and options: building an `Intl` formatter costs
 * tens of microseconds, and a render formats every time and price it shows
 * (issue #18).
 */
const formatters = new Map<string, Intl.DateTimeFormat | Intl.NumberFormat>();
function cachedFormatter<F extends Intl.DateTimeFormat | Intl.NumberFormat>(key: unknown[], make: () => F): F {
  const id = JSON.stringify(key);
  let found = formatters.get(id) as F | undefined;
  if (!found) {
    found = make();
    formatters.set(id, found);
  }
  return found;
}

function formatter(locale: string | undefined, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return cachedFormatter(['date', locale, options], () => new Intl.DateTimeFormat(locale, options));
}

function priceFormatter(locale: string | undefined, currency: string): Intl.NumberFormat {
  return cachedFormatter(['price', locale, currency], () => new Intl.NumberFormat(locale, { style: 'currency', currency }));
}

let browserZone: string | undefined;
/**
 * The browser's time zone, asked for once. A page's first `Intl` call loads
 * ICU's locale data, 35-65 ms of a fresh page's main thread here: the widget
 * asks while its first requests are on their way (issue #18).
 */
function browserTimeZone(): string {
  browserZone ??= Intl.DateTimeFormat().resolvedOptions().timeZone;
  return browserZone;
}

/** A wait in plain words: "1 minute", "45 minutes", "3 hours". */
function waitInWords(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return `${Math.ceil(minutes / 60)} hours`;
}

/**
 * @summary Lets customers book a specialist's video session without leaving the page.
 *
 * Each attribute is also a property (`apiBase`, `prefillName`, …). Set before
 * or after the element is attached, a change takes effect at once: a new
 * `specialist` or `api-base` starts over, a new `service` shows its times, and
 * an answer still on its way for the previous one is dropped.
 *
 * @attr specialist - The specialist's public slug (required).
 * @attr api-base - The booking server's URL. Default: this page's origin.
 * @attr service - A service id whose times to show; an empty or unknown id shows the list of services.
 * @attr prefill-name - Prefills the customer's name.
 * @attr prefill-email - Prefills the customer's email.
 * @attr locale - BCP 47 locale for dates and times. Default: the browser's.
 * @attr theme - `light` (default), `dark` or `auto` (follows the system).
 *
 * @event booking-confirmed - The customer booked. Detail: `BookingConfirmedDetail`.
 * @event booking-reauth-required - The specialist's Zoom must be re-authorized; the modal is open. With `detail.hold`, the time is held for the customer and confirmed by email once they do. Detail: `BookingReauthRequiredDetail`.
 * @event booking-failed - Booking failed in a way the customer may retry. Detail: `BookingFailedDetail`.
 * @event slots-loaded - Free slots arrived. Detail: `SlotsLoadedDetail`.
 *
 * @csspart container - The widget's frame.
 * @csspart header - The specialist's name and the step heading.
 * @csspart service-list - The list of services.
 * @csspart service - One service button.
 * @csspart day-list - The row of days.
 * @csspart day - One day button.
 * @csspart slot-list - The times of the chosen day.
 * @csspart slot - One time button.
 * @csspart form - The customer's details form.
 * @csspart input - Each form field.
 * @csspart button - Primary buttons.
 * @csspart success - The confirmation view.
 * @csspart calendar-link - Each "Add to calendar" link (Google Calendar, Outlook) in the confirmation view.
 * @csspart error - Error messages with a retry.
 * @csspart dialog - The re-authorization modal.
 *
 * @cssprop --sb-brand-color - Buttons, focus rings and selection. Default #4f46e5.
 * @cssprop --sb-brand-contrast - Text on the brand color. Default #ffffff.
 * @cssprop --sb-font-family - Font. Default system-ui.
 * @cssprop --sb-radius - Corner radius. Default 10px.
 * @cssprop --sb-background - Background. Default #ffffff (dark: #111827).
 * @cssprop --sb-foreground - Text. Default #111827 (dark: #f9fafb).
 * @cssprop --sb-muted - Secondary text.
 * @cssprop --sb-border - Borders.
 * @cssprop --sb-surface - Notices and skeletons.
 * @cssprop --sb-danger - Errors.
 */
export class SpecialistBooking extends LitElement {
  static override styles = styles;

  static override properties = {
    specialist: { type: String },
    apiBase: { type: String, attribute: 'api-base' },
    service: { type: String },
    prefillName: { type: String, attribute: 'prefill-name' },
    prefillEmail: { type: String, attribute: 'prefill-email' },
    locale: { type: String },
    theme: { type: String, reflect: true },
    view: { state: true },
    profile: { state: true },
    selectedService: { state: true },
    slots: { state: true },
    isLoadingSlots: { state: true },
    selectedDay: { state: true },
    selectedSlot: { state: true },
    timeZone: { state: true },
    isChoosingTimeZone: { state: true },
    fieldErrors: { state: true },
    notice: { state: true },
    isSubmitting: { state: true },
    failure: { state: true },
    booking: { state: true },
    reauth: { state: true },
  };

  declare specialist: string;
  declare apiBase: string;
  declare service: string;
  declare prefillName: string;
  declare prefillEmail: string;
  declare locale: string;
  declare theme: 'light' | 'dark' | 'auto';

  protected declare view: View;
  protected declare profile: Profile | undefined;
  protected declare selectedService: Service | undefined;
  protected declare slots: Slot[];
  protected declare isLoadingSlots: boolean;
  protected declare selectedDay: string;
  protected declare selectedSlot: Slot | undefined;
  /** The zone the customer chose; empty until they do: the browser's (`zone`). */
  protected declare timeZone: string;
  /** The time-zone list (over 400 zones) is rendered only once the customer asks to change the zone. */
  protected declare isChoosingTimeZone: boolean;
  protected declare fieldErrors: Record<string, string>;
  protected declare notice: string;
  protected declare isSubmitting: boolean;
  protected declare failure: { message: string; retry: () => void } | undefined;
  protected declare booking: Booking | undefined;
  /** The re-authorization modal's content: `hold` when the time is kept for the customer (issue #17). */
  protected declare reauth: { message: string; notified: boolean; start: string; hold: Hold | undefined } | undefined;

  // Reactive properties are declared, not initialized as class fields: a class
  // field would shadow Lit's accessors and stop updates (Lit's class-field-shadowing warning).
  constructor() {
    super();
    this.specialist = '';
    this.apiBase = '';
    this.service = '';
    this.prefillName = '';
    this.prefillEmail = '';
    this.locale = '';
    this.theme = 'light';
    this.view = 'loading';
    this.slots = [];
    this.isLoadingSlots = false;
    this.selectedDay = '';
    this.timeZone = '';
    this.isChoosingTimeZone = false;
    this.fieldErrors = {};
    this.notice = '';
    this.isSubmitting = false;
  }

  private client: BookingClient | undefined;
  private name = '';
  private email = '';
  private note = '';
  /** One key per booking attempt; kept across retries of that attempt. */
  private idempotencyKey = randomIdempotencyKey();
  private focusHeadingAfterRender = false;
  /** Aborted when a newer profile or slot list is asked for, so an older answer never lands after it. */
  private profileRequest = new AbortController();
  private slotsRequest = new AbortController();
  /** The preselected service's times, asked for together with the profile. */
  private prefetchedSlots: { serviceId: string; list: Promise<SlotList> } | undefined;
  /** The slots grouped by day in a zone, kept until the slots or the zone change. */
  private grouped: { slots: Slot[]; timeZone: string; byDay: Map<string, Slot[]> } | undefined;

  /**
   * Reacts to the page's properties, on the first update and on every change
   * after: frameworks (React through @lit/react among them) set them only
   * after the element is attached.
   */
  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('prefillName') && !this.name) this.name = this.prefillName;
    if (changed.has('prefillEmail') && !this.email) this.email = this.prefillEmail;
    if (changed.has('apiBase')) this.client = undefined;
    if (changed.has('specialist') || changed.has('apiBase')) void this.loadProfile();
    else if (changed.has('service') && this.profile) this.showPreselectedService(this.profile);
  }

  protected override updated(changed: PropertyValues): void {
    if (changed.has('view') && this.focusHeadingAfterRender) {
      this.focusHeadingAfterRender = false;
      this.renderRoot.querySelector<HTMLElement>('[data-step-heading]')?.focus();
    }
    if (changed.has('reauth') && this.reauth) {
      const dialog = this.renderRoot.querySelector('dialog');
      if (dialog && !dialog.open) dialog.showModal();
    }
  }

  /** The zone times are shown in: the customer's choice, or the browser's. */
  private get zone(): string {
    return this.timeZone || browserTimeZone();
  }

  private api(): BookingClient {
    this.client ??= createBookingClient({ baseUrl: this.apiBase || location.origin });
    return this.client;
  }

  private go(view: View): void {
    this.focusHeadingAfterRender = true;
    this.view = view;
  }

  private emit<T>(name: string, detail: T): void {
    fire(this, name, detail);
  }

  private fail(code: string, message: string, retry: () => void): void {
    this.failure = { message, retry };
    this.emit<BookingFailedDetail>('booking-failed', { code, message });
  }

  private describe(error: unknown): { code: string; message: string } {
    if (error instanceof BookingApiError && error.code === 'rate_limited') {
      return { code: error.code, message: `Too many requests from your connection. Please try again in ${waitInWords(error.retryAfterSeconds ?? 60)}.` };
    }
    if (error instanceof BookingApiError) return { code: error.code, message: error.message };
    return { code: 'network_error', message: 'We could not reach the booking service. Check your connection and try again.' };
  }

  /** Starts over with the current specialist: nothing of the previous one stays on screen. */
  private async loadProfile(): Promise<void> {
    this.profileRequest.abort();
    this.dropSlotsRequest();
    const { signal } = (this.profileRequest = new AbortController());
    this.profile = undefined;
    this.selectedService = undefined;
    this.selectedSlot = undefined;
    this.slots = [];
    this.notice = '';
    this.view = 'loading';
    this.failure = undefined;
    if (!this.specialist) return;
    // A preselected service's times need only its id: ask for them now, beside the profile.
    if (this.service) this.prefetchedSlots = { serviceId: this.service, list: this.requestSlots(this.service) };
    let profile: Profile;
    try {
      const request = this.api().getSpecialist(this.specialist, { signal });
      // Prices and times need the locale's data, which a page's first Intl call
      // loads, and times need the zone: both while the answers are on their way.
      browserTimeZone();
      profile = await request;
    } catch (error) {
      if (signal.aborted) return;
      this.dropSlotsRequest();
      const { code, message } = this.describe(error);
      this.view = 'error';
      this.fail(code, message, () => void this.loadProfile());
      return;
    }
    // The answer can be on its way through promise callbacks when the abort comes.
    if (signal.aborted) return;
    this.profile = profile;
    this.showPreselectedService(profile);
  }

  /** The times of the service the page names in `service`, or the list of services when it names none of them. */
  private showPreselectedService(profile: Profile): void {
    const preselected = profile.services.find((s) => s.id === this.service);
    if (preselected) {
      void this.showService(preselected);
    } else {
      this.dropSlotsRequest();
      this.selectedService = undefined;
      this.view = 'services';
    }
  }

  /** The customer chose a service: show its times, and move focus to their heading. */
  private async chooseService(service: Service): Promise<void> {
    this.focusHeadingAfterRender = true;
    await this.showService(service);
  }

  /** Shows a service's times. Focus stays where it is: the page, not the customer, may have asked. */
  private async showService(service: Service): Promise<void> {
    this.selectedService = service;
    this.selectedSlot = undefined;
    this.view = 'slots';
    await this.loadSlots();
  }

  /**
   * Asks for a service's free times, aborting any list asked for earlier, for
   * any service or range, so an older answer never lands after a newer one.
   */
  private requestSlots(serviceId: string): Promise<SlotList> {
    this.slotsRequest.abort();
    this.prefetchedSlots = undefined;
    const { signal } = (this.slotsRequest = new AbortController());
    // No range: the server's default, 14 days from the start of this hour. Every
    // visitor in the same hour asks the same question, which the server answers
    // from its cache, and the URL names no time, so the embed snippet can preload it.
    const list = this.api().listSlots(this.specialist, serviceId, { signal });
    // Handled where it is awaited; a list no one waits for (an aborted prefetch) must not be reported as unhandled.
    list.catch(() => undefined);
    return list;
  }

  /** Loads the chosen service's free times: the list asked for with the profile if it is this service's. */
  private async loadSlots(): Promise<void> {
    const service = this.selectedService;
    if (!service) return;
    const prefetched = this.prefetchedSlots?.serviceId === service.id ? this.prefetchedSlots.list : undefined;
    this.prefetchedSlots = undefined;
    const request = prefetched ?? this.requestSlots(service.id);
    const { signal } = this.slotsRequest;
    this.isLoadingSlots = true;
    this.failure = undefined;
    let list: SlotList;
    try {
      list = await request;
    } catch (error) {
      // Aborted: whatever aborted it has set the loading state.
      if (signal.aborted) return;
      this.isLoadingSlots = false;
      const { code, message } = this.describe(error);
      this.fail(code, message, () => void this.loadSlots());
      return;
    }
    if (signal.aborted) return;
    this.isLoadingSlots = false;
    this.slots = list.slots;
    const days = this.days();
    if (!days.includes(this.selectedDay)) this.selectedDay = days[0] ?? '';
    this.emit<SlotsLoadedDetail>('slots-loaded', { serviceId: service.id, count: list.slots.length, from: list.from, to: list.to });
  }

  /** Aborts the slot list being loaded, if any, with nothing to replace it. */
  private dropSlotsRequest(): void {
    this.slotsRequest.abort();
    this.prefetchedSlots = undefined;
    this.isLoadingSlots = false;
  }

  /**
   * The slots by calendar day (YYYY-MM-DD) in the visitor's chosen zone, in
   * order. Grouped once per slot list and zone, so choosing a day formats
   * only that day's times.
   */
  private slotsByDay(): Map<string, Slot[]> {
    const grouped = this.grouped;
    if (grouped && grouped.slots === this.slots && grouped.timeZone === this.zone) return grouped.byDay;
    const dayOf = formatter('en-CA', { timeZone: this.zone, year: 'numeric', month: '2-digit', day: '2-digit' });
    const byDay = new Map<string, Slot[]>();
    for (const slot of this.slots) {
      const day = dayOf.format(new Date(slot.start));
      const list = byDay.get(day);
      if (list) list.push(slot);
      else byDay.set(day, [slot]);
    }
    this.grouped = { slots: this.slots, timeZone: this.zone, byDay };
    return byDay;
  }

  private days(): string[] {
    return [...this.slotsByDay().keys()];
  }

  private format(iso: string, options: Intl.DateTimeFormatOptions): string {
    return formatter(this.locale || undefined, { timeZone: this.zone, ...options }).format(new Date(iso));
  }

  /** A day and a time in the visitor's chosen zone: "Tuesday 8 January at 10:00" (en-GB). */
  private formatDayAndTime(iso: string): string {
    return this.format(iso, { weekday: 'long', day: 'numeric', month: 'long', hour: 'numeric', minute: '2-digit' });
  }

  private chooseSlot(slot: Slot): void {
    this.selectedSlot = slot;
    this.idempotencyKey = randomIdempotencyKey();
    this.notice = '';
    this.go('details');
  }

  private validate(): boolean {
    const errors: Record<string, string> = {};
    if (!this.name.trim()) errors['customer.name'] = 'Enter your name';
    if (!EMAIL_PATTERN.test(this.email.trim())) errors['customer.email'] = 'Enter a valid email address';
    if (this.note.length > 2000) errors['customer.note'] = 'A note has at most 2000 characters';
    this.fieldErrors = errors;
    return Object.keys(errors).length === 0;
  }

  private async submit(event: Event): Promise<void> {
    event.preventDefault();
    const service = this.selectedService;
    const slot = this.selectedSlot;
    if (!service || !slot || this.isSubmitting) return;
    if (!this.validate()) {
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    this.isSubmitting = true;
    this.failure = undefined;
    try {
      const outcome = await this.api().createBooking(
        this.specialist,
        {
          serviceId: service.id,
          start: slot.start,
          customer: { name: this.name.trim(), email: this.email.trim(), note: this.note.trim() || undefined, timeZone: this.zone },
        },
        { idempotencyKey: this.idempotencyKey },
      );
      switch (outcome.status) {
        case 'confirmed':
          this.booking = outcome.booking;
          this.go('done');
          this.emit<BookingConfirmedDetail>('booking-confirmed', {
            bookingId: outcome.booking.id,
            start: outcome.booking.start,
            end: outcome.booking.end,
            service: { id: service.id, title: service.title },
            zoomJoinUrl: outcome.booking.zoomJoinUrl,
          });
          break;
        case 'slot_taken':
          this.selectedSlot = undefined;
          this.go('slots');
          this.notice = 'Sorry, that time was just taken. Here are the times still free.';
          await this.loadSlots();
          break;
        case 'requires_reauth':
          this.reauth = { message: outcome.message, notified: outcome.specialistNotified, start: slot.start, hold: outcome.hold };
          this.idempotencyKey = randomIdempotencyKey();
          this.emit<BookingReauthRequiredDetail>('booking-reauth-required', {
            specialistNotified: outcome.specialistNotified,
            message: outcome.message,
            service: { id: service.id, title: service.title },
            start: slot.start,
            hold: outcome.hold,
          });
          break;
        case 'invalid':
          this.fieldErrors = outcome.fieldErrors;
          this.notice = Object.keys(outcome.fieldErrors).length ? '' : outcome.message;
          this.idempotencyKey = randomIdempotencyKey();
          break;
        case 'rate_limited':
          // Nothing was booked: the same key may be sent again once the wait is over.
          this.fail('rate_limited', `Too many booking attempts from your connection. Please try again in ${waitInWords(outcome.retryAfterSeconds)}.`, () => void this.submit(new Event('submit')));
          break;
        case 'zoom_unavailable':
          // Nothing was booked and the slot was released: the same key may be sent again.
          this.fail(
            'zoom_unavailable',
            `The video call for this session could not be set up just now, so nothing was booked. Please try again in ${waitInWords(outcome.retryAfterSeconds)}.`,
            () => void this.submit(new Event('submit')),
          );
          break;
      }
    } catch (error) {
      const { code, message } = this.describe(error);
      this.fail(code, message, () => void this.submit(new Event('submit')));
    } finally {
      this.isSubmitting = false;
    }
  }

  private closeReauth(): void {
    this.renderRoot.querySelector('dialog')?.close();
  }

  /**
   * Without a hold, the customer is back at the form to try again later.
   * With one, the time is theirs until confirmed: the times still free are
   * shown (the held one is no longer among them) under a calm notice.
   */
  private onDialogClose(): void {
    const reauth = this.reauth;
    this.reauth = undefined;
    if (reauth?.hold) {
      this.selectedSlot = undefined;
      this.go('slots');
      this.notice = `We’re holding ${this.formatDayAndTime(reauth.start)} for you. You’ll get an email as soon as it’s confirmed.`;
      void this.loadSlots();
      return;
    }
    this.notice = 'This time could not be booked yet. Please try again later, or choose another service.';
    this.renderRoot.querySelector<HTMLElement>('[data-confirm]')?.focus();
  }

  override render(): TemplateResult {
    return html`<section part="container" aria-busy=${this.view === 'loading' || this.isLoadingSlots ? 'true' : 'false'}>
      ${this.profile ? html`<p part="header" class="muted">${this.profile.specialist.name}</p>` : nothing} ${this.renderView()}
      ${this.renderDialog()}
    </section>`;
  }

  private renderView(): TemplateResult {
    switch (this.view) {
      case 'loading':
        return html`<h2>Loading…</h2>
          <ul aria-hidden="true" class="placeholder">
            <li><span class="skeleton"></span></li>
            <li><span class="skeleton"></span></li>
          </ul>`;
      case 'error':
        return html`<h2 tabindex="-1" data-step-heading>Booking is not available right now</h2>
          ${this.renderFailure()}`;
      case 'services':
        return this.renderServices();
      case 'slots':
        return this.renderSlots();
      case 'details':
        return this.renderDetails();
      case 'done':
        return this.renderDone();
    }
  }

  private renderFailure(): TemplateResult | typeof nothing {
    const failure = this.failure;
    if (!failure) return nothing;
    return html`<div part="error" role="alert" class="notice">
      <p>${failure.message}</p>
      <button type="button" @click=${failure.retry}>Try again</button>
    </div>`;
  }

  private renderServices(): TemplateResult {
    const services = this.profile?.services ?? [];
    return html`<h2 tabindex="-1" data-step-heading>Choose a session</h2>
      ${services.length === 0
        ? html`<p>No sessions are open for booking right now.</p>`
        : html`<ul part="service-list">
            ${services.map(
              (s) =>
                html`<li>
                  <button part="service" class="service" type="button" @click=${() => void this.chooseService(s)}>
                    <strong>${s.title}</strong>
                    <span class="muted">${s.durationMinutes} min${s.price ? ` · ${this.formatPrice(s.price.amountCents, s.price.currency)}` : ''}</span>
                    ${s.description ? html`<span class="muted"> · ${s.description}</span>` : nothing}
                  </button>
                </li>`,
            )}
          </ul>`}`;
  }

  private formatPrice(cents: number, currency: string): string {
    return priceFormatter(this.locale || undefined, currency).format(cents / 100);
  }

  private renderSlots(): TemplateResult {
    const service = this.selectedService!;
    const byDay = this.isLoadingSlots ? new Map<string, Slot[]>() : this.slotsByDay();
    const days = [...byDay.keys()];
    const daySlots = byDay.get(this.selectedDay) ?? [];
    return html`<h2 tabindex="-1" data-step-heading>Pick a time for ${service.title}</h2>
      ${this.notice ? html`<p class="notice" role="status">${this.notice}</p>` : nothing} ${this.renderTimeZone()}
      ${this.renderFailure()}
      ${this.isLoadingSlots
        ? html`<ul aria-hidden="true" class="slots placeholder" style="margin-top:12px">
            ${[1, 2, 3, 4, 5, 6].map(() => html`<li><span class="skeleton"></span></li>`)}
          </ul>`
        : days.length === 0
          ? html`<p style="margin-top:12px">No free times in the next two weeks.</p>`
          : html`<h3 style="margin-top:16px">Day</h3>
              <div part="day-list" class="days" role="group" aria-label="Days">
                ${days.map(
                  (day) =>
                    html`<button part="day" type="button" aria-pressed=${day === this.selectedDay ? 'true' : 'false'} @click=${() => (this.selectedDay = day)}>
                      ${this.format(`${day}T12:00:00Z`, { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' })}
                    </button>`,
                )}
              </div>
              <h3 style="margin-top:12px">Time</h3>
              <ul part="slot-list" class="slots" aria-label="Free times">
                ${daySlots.map(
                  (slot) =>
                    html`<li><button part="slot" type="button" @click=${() => this.chooseSlot(slot)}>${this.format(slot.start, { hour: 'numeric', minute: '2-digit' })}</button></li>`,
                )}
              </ul>`}
      <div class="row"><button type="button" class="link" @click=${() => this.go('services')}>← Other sessions</button></div>`;
  }

  /**
   * The zone the times are in, and a button that opens the list of zones:
   * rendered only when asked for, as over 400 options cost a phone a visible
   * moment on every render (issue #18).
   */
  private renderTimeZone(): TemplateResult {
    const zoneName = this.zone.replace(/_/g, ' ');
    if (!this.isChoosingTimeZone) {
      return html`<p class="muted">
        Times shown in <strong>${zoneName}</strong>
        <button type="button" class="link" @click=${() => void this.openTimeZonePicker()}>Change time zone</button>
      </p>`;
    }
    return html`<label for="tz">Times shown in</label>
      <select id="tz" @change=${(e: Event) => this.changeTimeZone((e.target as HTMLSelectElement).value)}>
        ${this.timeZoneOptions().map((tz) => html`<option value=${tz} ?selected=${tz === this.zone}>${tz.replace(/_/g, ' ')}</option>`)}
      </select>`;
  }

  /** Shows the list of zones and moves focus to it, where the button was. */
  private async openTimeZonePicker(): Promise<void> {
    this.isChoosingTimeZone = true;
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLSelectElement>('#tz')?.focus();
  }

  private timeZoneOptions(): string[] {
    const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    return zones.includes(this.zone) ? zones : [this.zone, ...zones];
  }

  private changeTimeZone(timeZone: string): void {
    this.timeZone = timeZone;
    const days = this.days();
    if (!days.includes(this.selectedDay)) this.selectedDay = days[0] ?? '';
  }

  private renderDetails(): TemplateResult {
    const slot = this.selectedSlot!;
    const field = (id: string, label: string, key: 'name' | 'email' | 'note', type: string, autocomplete: string) => {
      const error = this.fieldErrors[`customer.${key}`];
      const input = (e: Event) => {
        this[key] = (e.target as HTMLInputElement).value;
        if (error) this.fieldErrors = { ...this.fieldErrors, [`customer.${key}`]: '' };
      };
      return html`<label for=${id}>${label}</label>
        ${key === 'note'
          ? html`<textarea part="input" id=${id} rows="3" maxlength="2000" .value=${this.note} @input=${input}
              aria-invalid=${error ? 'true' : 'false'} aria-describedby=${error ? `${id}-error` : nothing}></textarea>`
          : html`<input part="input" id=${id} type=${type} autocomplete=${autocomplete} .value=${this[key]} @input=${input} required
              aria-invalid=${error ? 'true' : 'false'} aria-describedby=${error ? `${id}-error` : nothing} />`}
        ${error ? html`<p class="error" id="${id}-error">${error}</p>` : nothing}`;
    };
    return html`<h2 tabindex="-1" data-step-heading>Your details</h2>
      <p>
        <strong>${this.selectedService!.title}</strong><br />
        ${this.formatDayAndTime(slot.start)}
        <span class="muted">(${this.zone.replace(/_/g, ' ')})</span>
      </p>
      ${this.notice ? html`<p class="notice" role="status">${this.notice}</p>` : nothing}
      <form part="form" novalidate @submit=${(e: Event) => void this.submit(e)}>
        ${field('sb-name', 'Name', 'name', 'text', 'name')} ${field('sb-email', 'Email', 'email', 'email', 'email')}
        ${field('sb-note', 'Anything the specialist should know? (optional)', 'note', 'text', 'off')} ${this.renderFailure()}
        <div class="row">
          <button type="button" class="link" @click=${() => this.go('slots')}>← Other times</button>
          <button part="button" class="primary" type="submit" data-confirm ?disabled=${this.isSubmitting}>
            ${this.isSubmitting ? 'Booking…' : 'Confirm booking'}
          </button>
        </div>
      </form>`;
  }

  private renderDone(): TemplateResult {
    const booking = this.booking!;
    return html`<div part="success">
      <h2 tabindex="-1" data-step-heading>You’re booked ✓</h2>
      <p>
        <strong>${booking.serviceTitle}</strong><br />
        ${this.format(booking.start, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' })},
        ${this.format(booking.start, { hour: 'numeric', minute: '2-digit' })}–${this.format(booking.end, { hour: 'numeric', minute: '2-digit' })}
        <span class="muted">(${this.zone.replace(/_/g, ' ')})</span>
      </p>
      <p>The Zoom link is in your email${booking.customer.email ? html` (${booking.customer.email})` : nothing}.</p>
      ${booking.zoomJoinUrl ? html`<p><a href=${booking.zoomJoinUrl} target="_blank" rel="noopener">Join on Zoom</a></p>` : nothing}
      ${this.renderCalendarLinks(booking)}
    </div>`;
  }

  /** "Add to calendar" for Google and Outlook: the same links as the confirmation email's (sdk/calendar-links.ts). */
  private renderCalendarLinks(booking: Booking): TemplateResult {
    const name = this.profile?.specialist.name;
    const event = {
      title: name ? `${booking.serviceTitle} with ${name}` : booking.serviceTitle,
      start: booking.start,
      end: booking.end,
      details: booking.zoomJoinUrl ? `Join on Zoom: ${booking.zoomJoinUrl}` : undefined,
      location: booking.zoomJoinUrl ?? undefined,
    };
    return html`<p>
      Add to calendar:
      <a part="calendar-link" href=${googleCalendarUrl(event)} target="_blank" rel="noopener">Google Calendar</a> ·
      <a part="calendar-link" href=${outlookCalendarUrl(event)} target="_blank" rel="noopener">Outlook</a>
    </p>`;
  }

  /** The modal's promise to a customer whose time is held (the "We're holding" email says the same). */
  private holdingSentence(start: string, expiresAt: string): string {
    return `We’re holding ${this.formatDayAndTime(start)} for you until ${this.formatDayAndTime(expiresAt)}. You’ll get an email as soon as it’s confirmed; there is nothing else to do.`;
  }

  private renderDialog(): TemplateResult | typeof nothing {
    const reauth = this.reauth;
    if (!reauth) return nothing;
    const name = this.profile?.specialist.name ?? 'The specialist';
    const others = (this.profile?.services.length ?? 0) > 1;
    const hold = reauth.hold;
    return html`<dialog part="dialog" aria-labelledby="reauth-title" aria-describedby=${hold ? 'reauth-body reauth-held' : 'reauth-body'} @close=${() => this.onDialogClose()}>
      <h2 id="reauth-title">🔄 Zoom Authorization Required</h2>
      ${hold
        ? html`<p id="reauth-body">${name}’s video link needs to be reconnected before this time can be confirmed.</p>`
        : html`<p id="reauth-body">${name}’s video link needs to be reconnected before this time can be booked. Nothing was booked, and nothing was charged.</p>`}
      ${reauth.notified ? html`<p class="notified">✓ ${name} was notified by email</p>` : nothing}
      ${hold
        ? html`<p class="held" id="reauth-held">${this.holdingSentence(reauth.start, hold.expiresAt)}</p>`
        : html`<p>You can try again later${others ? ', or choose another session' : ''}.</p>`}
      <div class="row"><button part="button" class="primary" type="button" autofocus @click=${() => this.closeReauth()}>Got it, thanks</button></div>
    </dialog>`;
  }
}

/**
 * The paths of the public API's two reads, as the SDK asks for them. The
 * embed snippet's preload hints name the same URLs: a browser reuses a
 * preloaded answer only for a request to the very same URL.
 */
export const specialistPath = (slug: string): string => `/api/v1/specialists/${encodeURIComponent(slug)}`;

/** A service's free times over the server's default range: a URL that names no time, so a page can preload it. */
export const slotsPath = (slug: string, serviceId: string): string => `${specialistPath(slug)}/services/${encodeURIComponent(serviceId)}/slots`;

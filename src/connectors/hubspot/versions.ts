/**
 * HubSpot API versions and the paths each one uses.
 *
 * Since 2026-03-30 HubSpot's REST APIs carry the version as a date in the path
 * (`/api-name/YYYY-MM/resource`, e.g. `/crm/objects/2026-03/contacts`), released each March and
 * September ("2026-03 API reference" overview; "Developer platform and API versioning"). The numeric
 * versions v1–v3 go unsupported in September 2027 (changelog "Legacy APIs and Apps: What's Going
 * Unsupported and When"); each dated version is Current for 6 months, then Supported, and
 * Unsupported 18 months after its GA. The batch upsert and search request and answer bodies are
 * the same in the dated reference as in v3 (`inputs[]` with `id` / `idProperty` / `properties`;
 * `results[]`, `errors[]`, `paging.next.after`). From 2026-09 HubSpot also applies an account's
 * conditional required properties and required create-form fields to API writes (changelog
 * "CRM API Write Validation Enforcement Starting with the 2026-09 API Version"): such a record is
 * answered `VALIDATION_ERROR` and dead-lettered alone, as any other refused record.
 */

/** Dated versions HubSpot has released as generally available, with their GA day (UTC). */
export const HUBSPOT_DATED_VERSIONS: Readonly<Record<string, string>> = {
  // Spring Spotlight 2026: date-based APIs GA on March 30, 2026.
  '2026-03': '2026-03-30',
  // Changelog: "the /2026-09/ API version shipping on September 8, 2026".
  '2026-09': '2026-09-08',
};

/** The newest generally available dated version: the default of a connection that sets none. */
export const HUBSPOT_API_VERSION = '2026-09';

/** The numeric paths of today's connections, kept for configs that pin them. */
export const HUBSPOT_LEGACY_VERSION = 'v3';

/** Everything `apiVersion` accepts (betas such as `2027-03-beta` are not offered). */
export const HUBSPOT_API_VERSIONS = [HUBSPOT_LEGACY_VERSION, ...Object.keys(HUBSPOT_DATED_VERSIONS)];

/** v1–v3 unsupported: "September 2027" (no day given; the month is named in warnings). */
export const HUBSPOT_LEGACY_UNSUPPORTED = '2027-09';

/** Unsupported 18 months after GA ("Developer platform and API versioning"): `YYYY-MM-DD`, or undefined for an unknown version. */
export function hubspotVersionUnsupportedOn(version: string): string | undefined {
  const ga = HUBSPOT_DATED_VERSIONS[version];
  if (!ga) return undefined;
  const d = new Date(`${ga}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + 18);
  return d.toISOString().slice(0, 10);
}

export interface HubspotPaths {
  /** POST: create or update up to 100 records by a unique property. */
  batchUpsert(objectType: string): string;
  /** POST: move up to 100 records to the recycling bin by id (`inputs[].id`); answers 204 ("Archive a batch of objects by ID"). */
  batchArchive(objectType: string): string;
  /** POST: update up to 100 records by id (`inputs[].id`, `properties`) ("Update a batch of objects"). */
  batchUpdate(objectType: string): string;
  /** POST: filter, sort and page through records. */
  search(objectType: string): string;
  /** GET: page through records (`limit` ≤ 100, `after`); with `archived=true`, only the archived ones, with `archivedAt`. */
  list(objectType: string): string;
  /** GET: one record by id. */
  read(objectType: string, id: string): string;
  /** POST: default (unlabelled) associations between records, in batch (`inputs[].from.id` / `to.id`); the hub writes none today. */
  associateDefault(fromObjectType: string, toObjectType: string): string;
}

/**
 * v3: `/crm/v3/objects/{objectType}/…`, associations on v4 (`/crm/v4/associations/{from}/{to}/batch/associate/default`).
 * Dated: `/crm/objects/{version}/{objectType}/…` and `/crm/associations/{version}/{from}/{to}/batch/associate/default`.
 */
export function hubspotPaths(version: string): HubspotPaths {
  const id = encodeURIComponent;
  if (version === HUBSPOT_LEGACY_VERSION) {
    return {
      batchUpsert: (t) => `/crm/v3/objects/${t}/batch/upsert`,
      batchArchive: (t) => `/crm/v3/objects/${t}/batch/archive`,
      batchUpdate: (t) => `/crm/v3/objects/${t}/batch/update`,
      search: (t) => `/crm/v3/objects/${t}/search`,
      list: (t) => `/crm/v3/objects/${t}`,
      read: (t, i) => `/crm/v3/objects/${t}/${id(i)}`,
      associateDefault: (f, t) => `/crm/v4/associations/${f}/${t}/batch/associate/default`,
    };
  }
  if (!(version in HUBSPOT_DATED_VERSIONS)) throw new Error(`unknown HubSpot API version ${version} (known: ${HUBSPOT_API_VERSIONS.join(', ')})`);
  return {
    batchUpsert: (t) => `/crm/objects/${version}/${t}/batch/upsert`,
    batchArchive: (t) => `/crm/objects/${version}/${t}/batch/archive`,
    batchUpdate: (t) => `/crm/objects/${version}/${t}/batch/update`,
    search: (t) => `/crm/objects/${version}/${t}/search`,
    list: (t) => `/crm/objects/${version}/${t}`,
    read: (t, i) => `/crm/objects/${version}/${t}/${id(i)}`,
    associateDefault: (f, t) => `/crm/associations/${version}/${f}/${t}/batch/associate/default`,
  };
}

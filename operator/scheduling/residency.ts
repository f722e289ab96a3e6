// Data residency: may a job whose sla.dataResidency lists these codes run under this
// jurisdiction (a pool's spec.jurisdiction)? Pure.

/** The 27 EU member states by ISO 3166-1 alpha-2 code (Greece is GR in ISO; EL is only the EU's own code). */
export const EU_MEMBER_STATES: ReadonlySet<string> = new Set([
  'AT',
  'BE',
  'BG',
  'CY',
  'CZ',
  'DE',
  'DK',
  'EE',
  'ES',
  'FI',
  'FR',
  'GR',
  'HR',
  'HU',
  'IE',
  'IT',
  'LT',
  'LU',
  'LV',
  'MT',
  'NL',
  'PL',
  'PT',
  'RO',
  'SE',
  'SI',
  'SK',
]);

/**
 * Empty list: anywhere. `EU` admits any member state (and a pool whose jurisdiction is EU);
 * other codes match exactly.
 */
export function residencyAllows(dataResidency: readonly string[], jurisdiction: string): boolean {
  if (dataResidency.length === 0) return true;
  return dataResidency.some((code) => code === jurisdiction || (code === 'EU' && EU_MEMBER_STATES.has(jurisdiction)));
}

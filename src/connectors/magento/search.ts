/**
 * Magento's searchCriteria as query parameters. Filters inside a group are OR,
 * groups are AND.
 */
export interface Filter { field: string; value: string; condition_type: 'eq' | 'gt' | 'gteq' | 'lt' | 'lteq' | 'in' | 'like' }

export function searchParams(groups: Filter[][], sort: [string, 'ASC' | 'DESC'][], pageSize: number, currentPage: number): Record<string, string | number> {
  const p: Record<string, string | number> = {};
  groups.forEach((filters, g) => filters.forEach((f, i) => {
    const at = `searchCriteria[filter_groups][${g}][filters][${i}]`;
    p[`${at}[field]`] = f.field;
    p[`${at}[value]`] = f.value;
    p[`${at}[condition_type]`] = f.condition_type;
  }));
  sort.forEach(([field, direction], k) => {
    p[`searchCriteria[sortOrders][${k}][field]`] = field;
    p[`searchCriteria[sortOrders][${k}][direction]`] = direction;
  });
  p['searchCriteria[pageSize]'] = pageSize;
  p['searchCriteria[currentPage]'] = currentPage;
  return p;
}

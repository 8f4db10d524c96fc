import { randomBytes, randomInt, randomUUID } from 'node:crypto';

/**
 * Plausible, generated decoy tenants: names drawn from word lists and random numbers, never
 * copied from real data. They must look like any other client in the database, so nothing in
 * them says "decoy"; the flag lives in clients.is_decoy and decoy_entities only.
 */
const FIRST = ['Wei Ling', 'Marcus', 'Priya', 'Jun Jie', 'Siti', 'Daniel', 'Mei Hua', 'Arjun', 'Hui Min', 'Farah', 'Kelvin', 'Grace'];
const LAST = ['Tan', 'Lim', 'Ng', 'Wong', 'Goh', 'Chua', 'Rahman', 'Pillai', 'Teo', 'Koh', 'Yeo', 'Lee'];
const WORD_A = [
  'Harbour',
  'Lion',
  'Orchid',
  'Straits',
  'Banyan',
  'Meranti',
  'Kallang',
  'Tembusu',
  'Jade',
  'Seletar',
  'Pioneer',
  'Raffles Bay',
];
const WORD_B = ['Crest', 'Gate', 'Point', 'Field', 'Bridge', 'Ridge', 'Quay', 'Grove', 'Summit', 'Vale', 'Works', 'Link'];
const TRADE = ['Trading', 'Logistics', 'Engineering', 'Interiors', 'Foods', 'Consulting', 'Marine', 'Supplies', 'Holdings', 'Studio'];
const ITEMS = [
  'Bank statements',
  'Sales invoices',
  'Purchase invoices',
  'Payroll summary',
  'CPF contribution report',
  'GST return working',
];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const pick = <T>(list: readonly T[]): T => list[randomInt(list.length)] as T;
const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '');

export interface DecoyPlan {
  client: { id: string; name: string; uen: string };
  contacts: { id: string; name: string; email: string }[];
  cycles: { id: string; kind: string; period: string; title: string; dueDate: Date }[];
  requests: { id: string; cycleId: string; contactId: string; message: string; expiresAt: Date }[];
  items: { id: string; requestId: string; position: number; label: string; status: string }[];
  files: {
    id: string;
    cycleId: string;
    itemId: string;
    filename: string;
    contentType: string;
    size: number;
    sha256: string;
    contactId: string;
  }[];
}

export function planDecoy(now: Date): DecoyPlan {
  const company = `${pick(WORD_A)} ${pick(WORD_B)}`;
  const client = {
    id: randomUUID(),
    name: `${company} ${pick(TRADE)} Pte Ltd`,
    uen: `20${String(randomInt(10, 26))}${String(randomInt(0, 100000)).padStart(5, '0')}${String.fromCharCode(65 + randomInt(26))}`,
  };
  const domain = `${slug(company)}.com.sg`;
  const contacts = Array.from({ length: 2 }, () => {
    const [first, last] = [pick(FIRST), pick(LAST)];
    return { id: randomUUID(), name: `${first} ${last}`, email: `${slug(first)}.${slug(last)}.${randomInt(10, 99)}@${domain}` };
  });
  const cycles = [1, 2].map((back) => {
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
    const period = `${month.getUTCFullYear()}-${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
    return {
      id: randomUUID(),
      kind: 'bookkeeping',
      period,
      title: `${MONTHS[month.getUTCMonth()]} ${month.getUTCFullYear()} bookkeeping`,
      dueDate: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 15)),
    };
  });
  const requests = cycles.map((cycle, i) => ({
    id: randomUUID(),
    cycleId: cycle.id,
    contactId: contacts[i % contacts.length]!.id,
    message: `Hi, please upload the documents for ${cycle.title}. Thank you!`,
    expiresAt: new Date(now.getTime() + 14 * 86_400_000),
  }));
  const items = requests.flatMap((request) =>
    [...ITEMS]
      .sort(() => Math.random() - 0.5)
      .slice(0, 3)
      .map((label, position) => ({
        id: randomUUID(),
        requestId: request.id,
        position,
        label,
        status: position === 0 ? 'submitted' : 'pending',
      })),
  );
  const files = items
    .filter((item) => item.status === 'submitted')
    .map((item) => {
      const request = requests.find((r) => r.id === item.requestId)!;
      const cycle = cycles.find((c) => c.id === request.cycleId)!;
      return {
        id: randomUUID(),
        cycleId: cycle.id,
        itemId: item.id,
        filename: `${slug(item.label)}-${cycle.period}.pdf`,
        contentType: 'application/pdf',
        size: randomInt(40_000, 900_000),
        sha256: randomBytes(32).toString('hex'),
        contactId: request.contactId,
      };
    });
  return { client, contacts, cycles, requests, items, files };
}

import { FIRM_TIME_ZONE } from '@breezycorp/db/pdpa-clocks';

/**
 * The three mails Spade sends, as plain text and HTML. Rendered by the delivery worker at
 * send time from the request's current state — a reminder lists what is still outstanding
 * when it goes out, not when it was queued. Everything interpolated into HTML is escaped.
 */

export interface RenderedBody {
  subject: string;
  text: string;
  html: string;
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** A time as the firm reads it (its zone, Singapore's format). */
const firmTime = new Intl.DateTimeFormat('en-SG', { dateStyle: 'medium', timeStyle: 'short', timeZone: FIRM_TIME_ZONE });

function page(paragraphs: string[], list: string[] | null, link: { url: string; label: string } | null, footer: string): string {
  const body = [
    ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    ...(list && list.length > 0 ? [`<ul>${list.map((item) => `<li>${escapeHtml(item)}</li>`).join('')}</ul>`] : []),
    ...(link ? [`<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>`] : []),
    `<p style="color:#666;font-size:12px">${escapeHtml(footer)}</p>`,
  ];
  return `<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">${body.join('\n')}</body></html>`;
}

export interface LinkMailInput {
  firmName: string;
  clientName: string;
  contactName: string;
  message: string | null;
  url: string;
  expiresAt: Date;
  items: { label: string; description: string | null; required: boolean }[];
}

const DO_NOT_FORWARD =
  'This link works once, for you only: do not forward it. If it has stopped working, open it anyway and ask for a new one.';

/**
 * A mail to a contact that carries their link: greeting, intro, the items, the link (as
 * text and as a button), its expiry and the do-not-forward warning — one layout for the
 * first mail and every reminder.
 */
function contactLinkMail(mail: {
  subject: string;
  contactName: string;
  intro: string;
  lines: string[];
  url: string;
  linkText: string;
  buttonLabel: string;
  expiresAt: Date;
}): RenderedBody {
  const until = `The link works until ${firmTime.format(mail.expiresAt)} (Singapore time).`;
  return {
    subject: mail.subject,
    text: [
      `Hello ${mail.contactName},`,
      '',
      mail.intro,
      '',
      ...mail.lines.map((line) => `  - ${line}`),
      '',
      `${mail.linkText}: ${mail.url}`,
      until,
      '',
      DO_NOT_FORWARD,
    ].join('\n'),
    html: page(
      [`Hello ${mail.contactName},`, mail.intro],
      mail.lines,
      { url: mail.url, label: mail.buttonLabel },
      `${until} ${DO_NOT_FORWARD}`,
    ),
  };
}

export function renderMagicLinkMail(input: LinkMailInput): RenderedBody {
  return contactLinkMail({
    subject: `Documents requested by ${input.firmName}`,
    contactName: input.contactName,
    intro: input.message ?? `${input.firmName} has asked you to upload some documents for ${input.clientName}.`,
    lines: input.items.map((item) => `${item.label}${item.required ? '' : ' (optional)'}`),
    url: input.url,
    linkText: 'Open this link to see the list and upload them',
    buttonLabel: 'Open your document checklist',
    expiresAt: input.expiresAt,
  });
}

export interface ReminderMailInput {
  firmName: string;
  clientName: string;
  contactName: string;
  url: string;
  expiresAt: Date;
  number: number;
  /** Outstanding items only: pending, or rejected with the reviewer's comment. */
  outstanding: { label: string; status: string; reviewComment: string | null }[];
}

export function renderReminderMail(input: ReminderMailInput): RenderedBody {
  return contactLinkMail({
    subject: `Reminder: documents still needed by ${input.firmName}`,
    contactName: input.contactName,
    intro: `A reminder from ${input.firmName}: we are still waiting for these documents for ${input.clientName}.`,
    lines: input.outstanding.map((item) =>
      item.status === 'rejected' ? `${item.label} — please upload again${item.reviewComment ? `: ${item.reviewComment}` : ''}` : item.label,
    ),
    url: input.url,
    linkText: 'Upload them here',
    buttonLabel: 'Upload the outstanding documents',
    expiresAt: input.expiresAt,
  });
}

export interface DigestMailInput {
  firmName: string;
  clientName: string;
  contactName: string;
  url: string;
  items: { label: string; status: string; fileCount: number }[];
}

export function renderStaffDigestMail(input: DigestMailInput): RenderedBody {
  const lines = input.items.map((item) => `${item.label}: ${item.status} (${item.fileCount} file${item.fileCount === 1 ? '' : 's'})`);
  const intro = `${input.contactName} (${input.clientName}) has submitted every required item of their request.`;
  return {
    subject: `${input.clientName}: all required documents submitted`,
    text: [intro, '', ...lines.map((line) => `  - ${line}`), '', `Review them: ${input.url}`].join('\n'),
    html: page([intro], lines, { url: input.url, label: 'Review the request' }, `${input.firmName} — Spade`),
  };
}

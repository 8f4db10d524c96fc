const CONTACT_LABELS: Record<string, string> = {
  pending: 'To do',
  submitted: 'Sent — awaiting review',
  accepted: 'Accepted',
  rejected: 'Needs a new file',
};
const STAFF_LABELS: Record<string, string> = {
  pending: 'Waiting for client',
  submitted: 'To review',
  accepted: 'Accepted',
  rejected: 'Rejected',
  open: 'Open',
  completed: 'Complete',
  cancelled: 'Cancelled',
  in_progress: 'In progress',
  closed: 'Closed',
};

/** A status in words (never colour alone). */
export function StatusBadge({ status, audience }: { status: string; audience: 'contact' | 'staff' }) {
  const label = (audience === 'contact' ? CONTACT_LABELS : STAFF_LABELS)[status] ?? status;
  return <span className={`badge badge-${status}`}>{label}</span>;
}

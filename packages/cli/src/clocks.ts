// The PDPA clocks (docs/spec/pdpa-breach-notification.md) are shared with the API's admin
// incident console, so they live in @breezycorp/db; the CLI keeps importing them from here.
export {
  ASSESSMENT_DAYS,
  assessmentDeadline,
  type Clock,
  type ClockState,
  type IncidentTimes,
  incidentClocks,
  PDPC_NOTIFY_DAYS,
  POSTMORTEM_HOURS,
  pdpcDeadline,
  postMortemDeadline,
} from '@breezycorp/db/pdpa-clocks';

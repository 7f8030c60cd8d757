// Swedish by default, English on request (remembered). Dates and times in Europe/Stockholm.
// Over 400 lines for a reason: the texts, both languages side by side, are most of it (the code is
// the last 70 lines); one table keeps a text and its translation from drifting apart.
import { language, setLanguage as choose } from "../lib/language.js";

// The one stored choice, shared with the video page (../lib/language.js); `lang` follows it.
export let lang = language();

export function setLanguage(value) {
  choose(value);
  lang = language();
}

const S = {
  appName: ["SIP – samordnad individuell plan", "SIP – coordinated individual plan"],
  skip: ["Hoppa till innehållet", "Skip to content"],
  signedInAs: ["Inloggad som", "Signed in as"],
  signOut: ["Logga ut", "Sign out"],
  signIn: ["Logga in", "Sign in"],
  notSignedIn: ["Du är inte inloggad.", "You are not signed in."],
  language: ["In English", "På svenska"],
  languageLabel: ["Byt språk till engelska", "Change language to Swedish"],
  mainNav: ["Huvudmeny", "Main menu"],
  navPlans: ["Planer", "Plans"],
  navMyPlans: ["Mina planer", "My plans"],
  navNew: ["Ny plan", "New plan"],
  loading: ["Läser in …", "Loading …"],
  notFound: ["Planen finns inte, eller så får du inte se den.", "The plan does not exist, or you may not see it."],
  error: ["Något gick fel", "Something went wrong"],
  tryAgain: ["Försök igen", "Try again"],
  reload: ["Läs in planen igen", "Reload the plan"],
  conflict: [
    "Någon annan ändrade planen medan du arbetade, så din ändring sparades inte. Läs in planen igen och gör ändringen på nytt.",
    "Someone else changed the plan while you were working, so your change was not saved. Reload the plan and make the change again.",
  ],
  saved: ["Sparat.", "Saved."],
  liveOn: ["Uppdateras direkt när någon ändrar planen.", "Updates as soon as someone changes the plan."],
  liveOff: ["Ingen direktuppdatering just nu – försöker igen …", "No live updates right now – retrying …"],
  updated: ["Planen uppdaterades.", "The plan was updated."],
  // inbox ("Att göra", staff)
  navInbox: ["Att göra", "To do"],
  navInboxNew: [{ one: "{n} ny", other: "{n} nya" }, { one: "{n} new", other: "{n} new" }],
  inboxTitle: ["Att göra", "To do"],
  inboxEmpty: ["Du har inget att göra just nu.", "You have nothing to do right now."],
  inboxSummary: [{ one: "{n} ny av {total}.", other: "{n} nya av {total}." }, { one: "{n} new of {total}.", other: "{n} new of {total}." }],
  inboxAllRead: [
    { one: "Du har sett allt. {n} sak att göra.", other: "Du har sett allt. {n} saker att göra." },
    { one: "You have seen everything. {n} thing to do.", other: "You have seen everything. {n} things to do." },
  ],
  inboxStart: [
    { one: "Du har {n} ny sak att göra.", other: "Du har {n} nya saker att göra." },
    { one: "You have {n} new thing to do.", other: "You have {n} new things to do." },
  ],
  inboxOpen: ["Visa Att göra", "Show To do"],
  inboxNew: ["Ny", "New"],
  inboxMarkRead: ["Markera som läst", "Mark as read"],
  inboxMarkAll: ["Markera alla som lästa", "Mark all as read"],
  inboxMarkedOne: ["Markerad som läst.", "Marked as read."],
  inboxMarkedAll: ["Alla markerade som lästa.", "All marked as read."],
  inboxMarkFailed: ["Det gick inte att markera. Listan är uppdaterad.", "Could not mark it. The list is updated."],
  inboxResponsible: ["Ansvarig: {name}", "Responsible: {name}"],
  digestTitle: ["E-post när något nytt väntar", "E-mail when something new is waiting"],
  digestReceive: [
    "Skicka ett brev till {email} när något nytt väntar här (högst ett om dagen, från kl. {at})",
    "Send an e-mail to {email} when something new is waiting here (at most one a day, from {at})",
  ],
  digestHint: [
    "Brevet säger bara hur många saker det gäller, inga namn: e-post är inte en säker kanal.",
    "The e-mail only says how many things there are, no names: e-mail is not a secure channel.",
  ],
  digestNoEmail: [
    "Du har ingen e-postadress i tjänsten, så inget brev kan skickas till dig.",
    "You have no e-mail address in the service, so no e-mail can be sent to you.",
  ],
  inbox_DISCHARGE: ["Utskrivning – kalla till SIP-möte", "Discharge – call a SIP meeting"],
  inbox_NEW_PLAN: ["Nya planer", "New plans"],
  inbox_TO_FINALIZE: ["Klara att fastställa", "Ready to finalize"],
  inbox_ACTION: ["Insatser som ska vara klara snart", "Actions due soon"],
  inbox_MEETING: ["Möten du är kallad till", "Meetings you are invited to"],
  inbox_FOLLOW_UP_DUE: ["Uppföljningar", "Follow-ups"],
  inboxWhyNew: ["Du är med i planen och har inte öppnat den än.", "You take part in the plan and have not opened it yet."],
  inboxWhyAction: ["”{text}” ska vara klar {date}.", "“{text}” is due {date}."],
  inboxWhyActionLate: ["Försenad: ”{text}” skulle ha varit klar {date}.", "Late: “{text}” was due {date}."],
  inboxWhyMeeting: ["Möte {when} ({kind}).", "Meeting {when} ({kind})."],
  inboxWhyFinalize: [
    "Patienten har godkänt planen och allt är klart. Du kan fastställa den.",
    "The patient has approved the plan and everything is done. You can finalize it.",
  ],
  inboxWhyDischarge: ["Patienten är utskrivningsklar. Kalla till SIP-möte senast {when}.", "The patient is ready for discharge. Call a SIP meeting by {when}."],
  inboxWhyDischargeLate: [
    "Patienten är utskrivningsklar. SIP-mötet skulle ha kallats senast {when}.",
    "The patient is ready for discharge. The SIP meeting should have been called by {when}.",
  ],
  inboxWhyFollowUp: ["Dags att följa upp planen senast {date}.", "Time to follow up the plan by {date}."],
  inboxWhyFollowUpLate: ["Uppföljningen skulle ha gjorts {date}.", "The follow-up was due {date}."],
  // queue
  queueTitle: ["Mina planer", "My plans"],
  filterLegend: ["Visa", "Show"],
  filterAll: ["Alla planer", "All plans"],
  filterAttention: ["Behöver åtgärd", "Needs attention"],
  filterStatus: ["Status", "Status"],
  anyStatus: ["Alla", "All"],
  colPatient: ["Patient", "Patient"],
  colStatus: ["Status", "Status"],
  colNext: ["Nästa steg", "Next step"],
  colAttention: ["Behöver åtgärd", "Needs attention"],
  colFollowUp: ["Uppföljning", "Follow-up"],
  noPlans: ["Inga planer att visa.", "No plans to show."],
  readyToFinalize: ["Klar att fastställas.", "Ready to be finalized."],
  moreBlockers: ["och {n} till", "and {n} more"],
  loadMore: ["Visa fler", "Show more"],
  // statuses
  DRAFT: ["Utkast", "Draft"],
  ACTIVE: ["Fastställd", "Active"],
  REVISING: ["Revideras", "Being revised"],
  CLOSED: ["Avslutad", "Closed"],
  NO_MEETING: ["Inget möte bokat", "No meeting booked"],
  FOLLOW_UP_DUE: ["Dags för uppföljning", "Follow-up due"],
  DISCHARGE_MEETING_NOT_CALLED: ["Utskrivningsklar – kalla till SIP-möte", "Ready for discharge – call a SIP meeting"],
  AWAITING_PATIENT_APPROVAL: ["Väntar på patientens godkännande", "Awaiting the patient's approval"],
  GOALS_MET: ["målen är nådda", "goals met"],
  NO_LONGER_NEEDED: ["behövs inte längre", "no longer needed"],
  CONSENT_WITHDRAWN: ["samtycket togs tillbaka", "consent withdrawn"],
  DECEASED: ["patienten har avlidit", "the patient has died"],
  MOVED: ["patienten har flyttat", "the patient has moved"],
  // plan page
  planFor: ["Plan för {name}", "Plan for {name}"],
  statusLine: ["Status: {status}", "Status: {status}"],
  version: ["version {v}", "version {v}"],
  background: ["Bakgrund", "Background"],
  aboutPlan: ["Om planen", "About the plan"],
  followUp: ["Uppföljningsdatum", "Follow-up date"],
  dischargeReady: ["Utskrivningsklar", "Ready for discharge"],
  overall: ["Övergripande ansvar", "Overall responsibility"],
  none: ["Inte bestämt", "Not decided"],
  checklist: ["Vad som återstår innan planen kan fastställas", "What remains before the plan can be finalized"],
  checklistDone: ["Allt är klart. Planen kan fastställas.", "Everything is done. The plan can be finalized."],
  chooseOverall: ["Välj vem som har övergripande ansvar", "Choose who holds overall responsibility"],
  setFollowUp: ["Sätt uppföljningsdatum", "Set the follow-up date"],
  fixIt: ["Åtgärda", "Fix it"],
  finalize: ["Fastställ planen", "Finalize the plan"],
  finalizeLeft: [
    { one: "Planen kan inte fastställas än: {n} punkt återstår i listan ovan.", other: "Planen kan inte fastställas än: {n} punkter återstår i listan ovan." },
    { one: "The plan cannot be finalized yet: {n} item is left in the list above.", other: "The plan cannot be finalized yet: {n} items are left in the list above." },
  ],
  finalizeCoordinator: ["Bara planens samordnare kan fastställa den.", "Only the plan's coordinator can finalize it."],
  finalized: ["Planen är fastställd.", "The plan is finalized."],
  revise: ["Börja revidera planen", "Start revising the plan"],
  goals: ["Patientens mål – med egna ord", "The patient's goals – in their own words"],
  noGoals: ["Inga mål ännu.", "No goals yet."],
  expressedBy: ["sagt av {name}", "said by {name}"],
  target: ["mål till {date}", "by {date}"],
  addGoal: ["Lägg till mål", "Add a goal"],
  goalText: ["Målet med patientens egna ord", "The goal in the patient's own words"],
  myGoalText: ["Mitt mål, med mina egna ord", "My goal, in my own words"],
  whoSaid: ["Vem sa det?", "Who said it?"],
  targetDate: ["Måldatum (frivilligt)", "Target date (optional)"],
  edit: ["Ändra", "Edit"],
  save: ["Spara", "Save"],
  cancel: ["Avbryt", "Cancel"],
  remove: ["Ta bort", "Remove"],
  actions: ["Insatser – vem gör vad", "Actions – who does what"],
  noActions: ["Inga insatser ännu.", "No actions yet."],
  addAction: ["Lägg till insats", "Add an action"],
  actionText: ["Vad ska göras?", "What will be done?"],
  responsibleOrg: ["Ansvarig organisation", "Responsible organisation"],
  responsiblePerson: ["Ansvarig person (frivilligt)", "Responsible person (optional)"],
  dueDate: ["Klart senast (frivilligt)", "Due (optional)"],
  linkedGoal: ["Hör till målet (frivilligt)", "Belongs to the goal (optional)"],
  noGoal: ["Inget särskilt mål", "No particular goal"],
  PLANNED: ["Planerad", "Planned"],
  ONGOING: ["Pågår", "Ongoing"],
  DONE: ["Klar", "Done"],
  CANCELLED: ["Inställd", "Cancelled"],
  participants: ["Deltagare", "Participants"],
  coordinator: ["samordnare", "coordinator"],
  PATIENT: ["Patient", "Patient"],
  STAFF: ["Personal", "Staff"],
  RELATIVE: ["Närstående", "Relative"],
  REPRESENTATIVE: ["Företrädare", "Representative"],
  EXTERNAL: ["Extern part", "External party"],
  wanted: ["patienten vill att hen deltar", "the patient wants them to take part"],
  notWanted: ["patienten vill inte att hen deltar", "the patient does not want them to take part"],
  notDecided: ["patienten har inte bestämt", "the patient has not decided"],
  invitedTo: ["kallad {when} ({channel})", "invited {when} ({channel})"],
  notInvited: ["inte kallad", "not invited"],
  attended: ["var med ({how})", "attended ({how})"],
  MEDIA: ["video", "video"],
  ATTESTED: ["intygat av {name}", "attested by {name}"],
  addStaff: ["Lägg till personal från en annan verksamhet", "Add staff from another organisation"],
  organisation: ["Verksamhet", "Organisation"],
  chooseOrg: ["Välj verksamhet", "Choose an organisation"],
  staffMember: ["Person", "Person"],
  chooseFirst: ["Välj verksamhet först", "Choose an organisation first"],
  role: ["Roll i planen (frivilligt)", "Role in the plan (optional)"],
  add: ["Lägg till", "Add"],
  addRelative: ["Lägg till närstående", "Add a relative"],
  name: ["Namn", "Name"],
  personalNumber: ["Personnummer (12 siffror)", "Personal identity number (12 digits)"],
  phone: ["Mobilnummer (frivilligt)", "Mobile number (optional)"],
  email: ["E-post (frivilligt)", "E-mail (optional)"],
  consent: ["Samtycke", "Consent"],
  noConsent: ["Inget samtycke ännu.", "No consent yet."],
  consentGiven: ["Samtycke {method} {when}: får dela information mellan {orgs}.", "Consent {method} {when}: information may be shared between {orgs}."],
  DIGITAL: ["digitalt av patienten", "given digitally by the patient"],
  ORAL: ["muntligt, antecknat av {name}", "given orally, recorded by {name}"],
  exclusions: ["Får inte delas", "Must not be shared"],
  recordOral: ["Anteckna muntligt samtycke", "Record an oral consent"],
  consentOrgs: ["Verksamheter som får dela information", "Organisations that may share information"],
  givenBy: ["Vem gav samtycket?", "Who gave the consent?"],
  exclusionsOptional: ["Sådant som inte får delas (frivilligt)", "Anything that must not be shared (optional)"],
  relativesDecision: ["Närstående", "Relatives"],
  relativesOnlyPatient: [
    "Bara patienten (eller företrädaren) kan bestämma vilka närstående som ska vara med. Be patienten logga in och välja.",
    "Only the patient (or representative) can decide which relatives take part. Ask the patient to sign in and choose.",
  ],
  meetings: ["Möten", "Meetings"],
  noMeetings: ["Inga möten bokade.", "No meetings booked."],
  scheduleMeeting: ["Boka SIP-möte", "Schedule a SIP meeting"],
  meetingKind: ["Typ av möte", "Kind of meeting"],
  VIDEO: ["Videomöte", "Video meeting"],
  IN_PERSON: ["Fysiskt möte", "In-person meeting"],
  HYBRID: ["Fysiskt och video", "In person and video"],
  PLANNING: ["Planeringsmöte", "Planning meeting"],
  FOLLOW_UP: ["Uppföljningsmöte", "Follow-up meeting"],
  date: ["Datum", "Date"],
  time: ["Starttid (svensk tid)", "Start time (Swedish time)"],
  duration: ["Längd i minuter", "Length in minutes"],
  location: ["Plats (frivilligt)", "Place (optional)"],
  schedule: ["Boka mötet", "Book the meeting"],
  cancelled: ["inställt", "cancelled"],
  invite: ["Kalla till mötet", "Invite to the meeting"],
  inviteWho: ["Vilka ska kallas?", "Who should be invited?"],
  channel: ["Hur?", "How?"],
  EMAIL: ["e-post", "e-mail"],
  SMS: ["sms", "text message"],
  LETTER: ["brev", "letter"],
  IN_PERSON_CH: ["personligen", "in person"],
  sendInvites: ["Skicka kallelse", "Send invitations"],
  everyoneInvited: ["Alla är kallade.", "Everyone is invited."],
  attest: ["Intyga att {name} var med", "Attest that {name} attended"],
  startVideo: ["Starta videomötet", "Start the video meeting"],
  joinVideo: ["Gå med i videomötet", "Join the video meeting"],
  revisions: ["Versioner", "Revisions"],
  noRevisions: ["Planen har inte fastställts än.", "The plan has not been finalized yet."],
  revisionLine: ["Version {n}, fastställd {when} av {who}", "Revision {n}, finalized {when} by {who}"],
  firstVersion: ["Första fastställda versionen.", "The first finalized version."],
  noChanges: ["Inga ändringar i innehållet.", "No changes in content."],
  chBackground: ["Bakgrunden ändrades.", "The background changed."],
  chFollowUp: ["Uppföljningsdatum: {a} → {b}", "Follow-up date: {a} → {b}"],
  chOverall: ["Övergripande ansvar: {a} → {b}", "Overall responsibility: {a} → {b}"],
  chAdded: ["Tillagt: {what}", "Added: {what}"],
  chChanged: ["Ändrat: {what}", "Changed: {what}"],
  chRemoved: ["Borttaget: {what}", "Removed: {what}"],
  notFinalizedPrint: ["Obs! Den här versionen av planen är inte fastställd.", "Note: this version of the plan is not finalized."],
  printView: ["Utskrift för patienten", "Print version for the patient"],
  printMine: ["Skriv ut planen", "Print the plan"],
  print: ["Skriv ut", "Print"],
  backToPlan: ["Tillbaka till planen", "Back to the plan"],
  // create
  createNew: ["Skapa en ny plan", "Create a new plan"],
  newTitle: ["Ny plan", "New plan"],
  findPatient: ["Hitta patienten", "Find the patient"],
  search: ["Sök", "Search"],
  patientFound: ["Patient: {name}", "Patient: {name}"],
  patientNotFound: ["Ingen med det personnumret finns i registret. Kontrollera numret.", "No one with that personal identity number is registered. Check the number."],
  pnrDigits: ["Personnumret ska ha 12 siffror: ÅÅÅÅMMDDNNNN.", "The personal identity number has 12 digits: YYYYMMDDNNNN."],
  create: ["Skapa planen", "Create the plan"],
  openPlanLink: ["Öppna den planen", "Open that plan"],
  anotherPlan: ["Skapa en till ändå", "Create another one anyway"],
  createdHint: ["Planen är skapad. Lägg till deltagare, mål och insatser.", "The plan is created. Add participants, goals and actions."],
  dischargeReadyOptional: ["Utskrivningsklar från sjukhus, svensk tid (frivilligt)", "Ready for discharge from hospital, Swedish time (optional)"],
  backgroundText: ["Bakgrund – varför behövs en plan?", "Background – why is a plan needed?"],
  // citizen
  citizenIntro: [
    "Här är planen för din vård och omsorg. Den görs tillsammans med dig.",
    "This is the plan for your care. It is made together with you.",
  ],
  whatHappens: ["Det här ska hända", "What will happen"],
  whoToCall: ["Vem kontaktar jag?", "Who do I contact?"],
  coordinatesPlan: ["samordnar planen", "coordinates the plan"],
  call: ["Ring", "Call"],
  switchboard: ["Växel:", "Switchboard:"],
  pnr: ["Personnummer", "Personal identity number"],
  statusLabel: ["Status", "Status"],
  versionLabel: ["Version", "Version"],
  printedLabel: ["Utskriven", "Printed"],
  nextMeeting: ["Nästa möte", "Next meeting"],
  noNextMeeting: ["Inget möte är bokat.", "No meeting is booked."],
  overallText: ["{org} har det övergripande ansvaret.", "{org} holds overall responsibility."],
  myGoals: ["Mina mål", "My goals"],
  theGoals: ["Målen", "The goals"],
  myConsent: ["Mitt samtycke", "My consent"],
  consentQuestion: ["Vilka verksamheter får dela information om dig med varandra?", "Which organisations may share information about you with each other?"],
  giveConsent: ["Spara mitt samtycke", "Save my consent"],
  withdraw: ["Ta tillbaka mitt samtycke (planen avslutas)", "Withdraw my consent (the plan closes)"],
  withdrawConfirm: ["Vill du verkligen ta tillbaka samtycket? Planen avslutas då.", "Do you really want to withdraw consent? The plan will then close."],
  myRelatives: ["Vilka närstående vill du ha med?", "Which relatives do you want to take part?"],
  relativesHelp: ["De du väljer får vara med på mötet och se planen. Det är bara du som bestämmer.", "Those you choose may join the meeting and see the plan. Only you decide."],
  noRelatives: ["Jag vill inte ha med några närstående", "I do not want any relatives to take part"],
  noRelativesListed: ["Inga närstående är tillagda i planen. Vill du ha med någon, säg det till din samordnare.", "No relatives have been added to the plan. If you want someone to take part, tell your coordinator."],
  saveRelatives: ["Spara mitt val", "Save my choice"],
  decidedAt: ["Du bestämde {when}.", "You decided {when}."],
  approveTitle: ["Godkänn planen", "Approve the plan"],
  approveText: ["Har du läst planen och tycker att den stämmer? Då kan du godkänna den.", "Have you read the plan and think it is right? Then you can approve it."],
  approve: ["Jag godkänner planen", "I approve the plan"],
  approvedAt: ["Du godkände den här versionen {when}.", "You approved this version {when}."],
  approveHint: [
    "Patienten godkänner själv, inloggad. Varje ändring i planen gör att den behöver godkännas igen.",
    "The patient approves it themselves, signed in. Every change to the plan means it must be approved again.",
  ],
  notApproved: ["Patienten har inte godkänt den här versionen.", "The patient has not approved this version."],
  accessLog: ["Vem har tittat på min plan?", "Who has looked at my plan?"],
  showLog: ["Visa", "Show"],
  logLast: ["Senast {when}.", "Last {when}."],
  logReads: [{ one: "Läste planen {n} gång.", other: "Läste planen {n} gånger." }, { one: "Read the plan once.", other: "Read the plan {n} times." }],
  logWrites: [{ one: "Ändrade i planen {n} gång.", other: "Ändrade i planen {n} gånger." }, { one: "Changed the plan once.", other: "Changed the plan {n} times." }],
  logEmpty: ["Ingen ännu.", "No one yet."],
  READ: ["läste", "read"],
  WRITE: ["ändrade", "changed"],
  yourMeeting: ["Ditt möte", "Your meeting"],
  // closing, removing, meetings (more)
  closePlan: ["Avsluta planen", "Close the plan"],
  closeText: ["En avslutad plan kan inte ändras längre. Den finns kvar att läsa.", "A closed plan can no longer be changed. It can still be read."],
  closeWhy: ["Varför avslutas planen?", "Why is the plan being closed?"],
  why_GOALS_MET: ["Målen är nådda", "The goals have been reached"],
  why_NO_LONGER_NEEDED: ["Planen behövs inte längre", "The plan is no longer needed"],
  why_MOVED: ["Patienten har flyttat härifrån", "The patient has moved away"],
  why_DECEASED: ["Patienten har avlidit", "The patient has died"],
  why_CONSENT_WITHDRAWN: ["Patienten tog tillbaka sitt samtycke", "The patient withdrew their consent"],
  closeConsentHint: [
    "Har patienten tagit tillbaka sitt samtycke? Då avslutas planen när patienten gör det, inte här.",
    "Has the patient withdrawn their consent? Then the plan closes when the patient does so, not here.",
  ],
  closeCoordinator: ["Bara planens samordnare kan avsluta den.", "Only the plan's coordinator can close it."],
  closeNext: ["Gå vidare", "Continue"],
  meetingOver: ["har varit", "over"],
  inviteMore: ["Kalla fler till mötet", "Invite more people to the meeting"],
  discardTitle: ["Behövs planen inte?", "Is the plan not needed?"],
  discardText: [
    "Om planen inte ska göras kan du avsluta utkastet. Det finns kvar att läsa men kan inte ändras.",
    "If the plan is not going to be made, you can close the draft. It can still be read but not changed.",
  ],
  discardButton: ["Avsluta utkastet", "Close the draft"],
  discardQ: ["Vill du avsluta utkastet? Skäl: planen behövs inte. Det kan inte ändras efteråt.", "Do you want to close the draft? Reason: the plan is not needed. It cannot be changed afterwards."],
  yesDiscard: ["Ja, avsluta utkastet", "Yes, close the draft"],
  closeQ: ["Vill du avsluta planen? Skäl: {reason}. Planen kan inte ändras efteråt.", "Do you want to close the plan? Reason: {reason}. The plan cannot be changed afterwards."],
  yesClose: ["Ja, avsluta planen", "Yes, close the plan"],
  closedTitle: ["Planen är avslutad.", "The plan is closed."],
  closedText: ["Avslutad {when}. Skäl: {reason}.", "Closed {when}. Reason: {reason}."],
  yesRemove: ["Ja, ta bort", "Yes, remove"],
  removeGoalQ: ["Vill du ta bort målet ”{text}”?", "Do you want to remove the goal “{text}”?"],
  removeActionQ: ["Vill du ta bort insatsen ”{text}”?", "Do you want to remove the action “{text}”?"],
  removePartQ: [
    "Vill du ta bort {name} från planen? Hen kan då inte längre se planen, och hens möteslänk slutar fungera. Det hen har gjort finns kvar i planens historik.",
    "Do you want to remove {name} from the plan? They will no longer see the plan, and their meeting link stops working. What they did stays in the plan's history.",
  ],
  removeStaffQ: [
    "Vill du ta bort {name} från planen? Hen kan då inte längre se eller ändra planen och kallas inte till fler möten. Det hen har gjort finns kvar i planens historik.",
    "Do you want to remove {name} from the plan? They will no longer see or change the plan and are not invited to more meetings. What they did stays in the plan's history.",
  ],
  formerParticipants: ["Tidigare deltagare", "Former participants"],
  removedOn: ["borttagen {when}", "removed {when}"],
  removedByOn: ["borttagen {when} av {who}", "removed {when} by {who}"],
  actionStatus: ["Status", "Status"],
  saveStatus: ["Spara status", "Save the status"],
  actionForbidden: [
    "Du kan inte ändra den här insatsen. Bara {org}, som ansvarar för den, kan ändra eller ta bort den.",
    "You cannot change this action. Only {org}, who is responsible for it, can change or remove it.",
  ],
  reschedule: ["Flytta mötet", "Move the meeting"],
  rescheduleHint: ["Alla som är kallade får den nya tiden.", "Everyone invited is sent the new time."],
  moveMeeting: ["Flytta mötet", "Move the meeting"],
  cancelMeeting: ["Ställ in mötet", "Cancel the meeting"],
  cancelMeetingQ: ["Vill du ställa in mötet {when}? Alla som är kallade får besked.", "Do you want to cancel the meeting on {when}? Everyone invited is told."],
  yesCancelMeeting: ["Ja, ställ in mötet", "Yes, cancel the meeting"],
  invitations: ["Kallelser", "Invitations"],
  invitedBy: ["kallad via {channel} {when}", "invited by {channel} {when}"],
  dSent: ["Kallelsen är skickad {when}.", "The invitation was sent {when}."],
  dPending: ["Kallelsen väntar på att skickas.", "The invitation is waiting to be sent."],
  dRetry: ["Kallelsen har inte kommit fram än: {n} försök, nytt försök {when}. Senaste fel: {error}", "The invitation has not got through yet: {n} attempts, trying again {when}. Last error: {error}"],
  dFailed: ["Kallelsen kunde inte skickas ({n} försök). Fel: {error}. Kontakta personen på annat sätt.", "The invitation could not be sent ({n} attempts). Error: {error}. Contact the person another way."],
  dNotSent: ["Skickas inte automatiskt – lämna eller skicka kallelsen själv.", "Not sent automatically – hand over or post the invitation yourself."],
  dWaitingConsent: ["Väntar på samtycke – skickas när patientens samtycke omfattar {org}.", "Waiting for consent – sent when the patient's consent covers {org}."],
  awaitingConsent: ["{name} ({org}) kan se planen först när patientens samtycke omfattar {org}. Be patienten om samtycke.", "{name} ({org}) can see the plan only once the patient's consent covers {org}. Ask the patient for consent."],
  checkDeliveries: ["Kontrollera kallelserna igen", "Check the invitations again"],
  deliveriesChecked: ["Kallelsernas status är uppdaterad.", "The invitations' status is updated."],
  issueLink: ["Skapa möteslänk för {name}", "Create a meeting link for {name}"],
  newLink: ["Skapa ny möteslänk för {name}", "Create a new meeting link for {name}"],
  revokeLink: ["Stäng av länken för {name}", "Turn off the link for {name}"],
  linkFor: ["Möteslänk för {name} – kopiera och ge den till hen", "Meeting link for {name} – copy it and give it to them"],
  linkOnce: ["Länken visas bara nu. En ny länk gör att den gamla slutar fungera.", "The link is shown only now. A new link makes the old one stop working."],
  copyLink: ["Kopiera länken", "Copy the link"],
  copied: ["Länken är kopierad.", "The link is copied."],
  linkReady: ["Länken för {name} är skapad.", "The link for {name} is created."],
  linkRevoked: ["Länken fungerar inte längre.", "The link no longer works."],
  linkValid: ["Möteslänken fungerar {from} – {to}.", "The meeting link works {from} – {to}."],
  linkUsed: ["Användes senast {when}.", "Last used {when}."],
  linkUnused: ["Den har inte använts än.", "It has not been used yet."],
  notChosenYet: [
    "Patienten har inte valt ännu om {name} ska vara med. Hen kan kallas när patienten har valt.",
    "The patient has not yet chosen whether {name} takes part. They can be invited once the patient has chosen.",
  ],
  dWithheld: ["Skickas inte: patienten har inte valt att {name} ska vara med.", "Not sent: the patient has not chosen {name} to take part."],
  dNotSentReason: ["Skickas inte: {error}", "Not sent: {error}"],
  linkDeadNotChosen: [
    "Möteslänken fungerar inte längre: patienten har inte valt att {name} ska vara med.",
    "The meeting link no longer works: the patient has not chosen {name} to take part.",
  ],
  noLinkNotChosen: [
    "Ingen möteslänk: patienten har inte valt att {name} ska vara med.",
    "No meeting link: the patient has not chosen {name} to take part.",
  ],
  relativeView: ["Du ser planen för att {name} vill ha med dig.", "You see this plan because {name} wants you to take part."],
  // what patients and relatives read (said to "du"; never the staff's checklist wording)
  citizenLeft: [
    { one: "En sak återstår innan planen är klar.", other: "{n} saker återstår innan planen är klar." },
    { one: "One thing is left before the plan is finished.", other: "{n} things are left before the plan is finished." },
  ],
  citizenReady: ["Allt är klart. Personalen fastställer planen.", "Everything is ready. The staff will finalize the plan."],
  missingTitle: ["Innan planen är klar", "Before the plan is finished"],
  missingIntro: ["Det här återstår innan planen kan bli klar:", "This is left before the plan can be finished:"],
  you_CONSENT: ["Du har inte lämnat ditt samtycke ännu. Du gör det under ”Mitt samtycke”.", "You have not given your consent yet. You can do it under “My consent”."],
  you_CONSENT_ORG: ["Ditt samtycke gäller inte alla verksamheter i planen. Du kan ändra det under ”Mitt samtycke”.", "Your consent does not cover every organisation in the plan. You can change it under “My consent”."],
  you_PATIENT_GOALS: ["Du har inte skrivit något eget mål ännu. Skriv vad som är viktigt för dig under ”Mina mål”.", "You have not written a goal of your own yet. Write what matters to you under “My goals”."],
  you_PATIENT_ATTENDED: ["Du har inte varit med på ett planeringsmöte ännu.", "You have not taken part in a planning meeting yet."],
  you_RELATIVES_DECIDED: ["Du har inte valt vilka närstående som ska vara med ännu.", "You have not chosen which relatives should take part yet."],
  you_RELATIVES_INVITED: ["Personalen ska bjuda in de närstående du vill ha med till mötet.", "The staff will invite the relatives you want to the meeting."],
  you_PATIENT_APPROVED: ["Du har inte godkänt planen ännu.", "You have not approved the plan yet."],
  they_CONSENT: ["{name} har inte lämnat sitt samtycke ännu.", "{name} has not given consent yet."],
  they_CONSENT_ORG: ["Samtycket från {name} gäller inte alla verksamheter i planen.", "The consent from {name} does not cover every organisation in the plan."],
  they_PATIENT_GOALS: ["{name} har inte skrivit något eget mål ännu.", "{name} has not written a goal of their own yet."],
  they_PATIENT_ATTENDED: ["{name} har inte varit med på ett planeringsmöte ännu.", "{name} has not taken part in a planning meeting yet."],
  they_RELATIVES_DECIDED: ["{name} har inte valt vilka närstående som ska vara med ännu.", "{name} has not chosen which relatives should take part yet."],
  they_RELATIVES_INVITED: ["Personalen ska bjuda in de närstående som {name} vill ha med till mötet.", "The staff will invite the relatives {name} wants to the meeting."],
  they_PATIENT_APPROVED: ["{name} har inte godkänt planen ännu.", "{name} has not approved the plan yet."],
  staff_CROSS_ORGANISATION: ["Personalen ser till att både kommunen och regionen (till exempel vårdcentralen) är med i planen.", "The staff will make sure both the municipality and the region (for example the health centre) take part."],
  staff_OVERALL_RESPONSIBILITY: ["Personalen bestämmer vem som har huvudansvaret för planen.", "The staff will decide who holds overall responsibility for the plan."],
  staff_ACTIONS: ["Personalen skriver in vad som ska göras och vem som gör det.", "The staff will write down what will be done and who does it."],
  staff_FOLLOW_UP: ["Personalen bestämmer när planen ska följas upp.", "The staff will decide when the plan is followed up."],
  staff_OTHER: ["Personalen gör klart det som återstår.", "The staff will finish what is left."],
  youConsentDigital: ["Du gav ditt samtycke digitalt den {when}.", "You gave your consent digitally on {when}."],
  youConsentOral: ["Du gav ditt samtycke muntligt till {name} den {when}.", "You gave your consent orally to {name} on {when}."],
  theyConsentDigital: ["{patient} gav sitt samtycke digitalt den {when}.", "{patient} gave consent digitally on {when}."],
  theyConsentOral: ["{patient} gav sitt samtycke muntligt till {name} den {when}.", "{patient} gave consent orally to {name} on {when}."],
  consentShares: ["Då får de här verksamheterna dela information med varandra: {orgs}.", "Then these organisations may share information with each other: {orgs}."],
  youNoConsent: ["Du har inte lämnat ditt samtycke ännu.", "You have not given your consent yet."],
  theyNoConsent: ["{patient} har inte lämnat sitt samtycke ännu.", "{patient} has not given consent yet."],
  youExclusions: ["Det här får inte delas", "This must not be shared"],
  theyApproved: ["{patient} godkände den här versionen {when}.", "{patient} approved this version {when}."],
};

export function t(key, values = {}) {
  const entry = S[key];
  let text = entry ? entry[lang === "en" ? 1 : 0] : key;
  // a text with plural forms ({ one, other }) is chosen by the count {n}, as the language says it
  if (text && typeof text === "object") text = text[plural(values.n)] || text.other;
  // a value that is missing (null, undefined) is left out, never written as "null"
  for (const [k, v] of Object.entries(values)) text = text.replaceAll(`{${k}}`, v === null || v === undefined ? "" : String(v));
  return text;
}

// The plural form of a count in the page's language ("one" or "other" in Swedish and English):
// the one helper every text with a count goes through, t(key, { n }).
export function plural(n) {
  return new Intl.PluralRules(locale()).select(Number(n));
}

const ZONE = "Europe/Stockholm";
const locale = () => (lang === "en" ? "en-GB" : "sv-SE");

export function formatDateTime(value) {
  if (!value) return "";
  return new Intl.DateTimeFormat(locale(), {
    timeZone: ZONE, day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit",
  }).format(new Date(value));
}

export function formatDate(value) {
  if (!value) return "";
  // a Date (yyyy-mm-dd) is a calendar day: show it as that day, whatever the zone
  const [y, m, d] = value.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { timeZone: "UTC", day: "numeric", month: "long", year: "numeric" })
    .format(new Date(Date.UTC(y, m - 1, d)));
}

export function formatTime(value) {
  return new Intl.DateTimeFormat(locale(), { timeZone: ZONE, hour: "2-digit", minute: "2-digit" })
    .format(new Date(value));
}

// Wall-clock time in Stockholm -> a UTC instant (ISO), whatever the browser's own zone.
export function stockholmToIso(dateText, timeText) {
  const [y, mo, d] = dateText.split("-").map(Number);
  const [h, mi] = timeText.split(":").map(Number);
  const wanted = Date.UTC(y, mo - 1, d, h, mi);
  let guess = wanted;
  for (let i = 0; i < 3; i++) {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
      timeZone: ZONE, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    }).formatToParts(new Date(guess)).map((p) => [p.type, p.value]));
    const shown = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute);
    guess += wanted - shown;
  }
  return new Date(guess).toISOString();
}

// A UTC instant -> [yyyy-mm-dd, hh:mm] on the wall clock in Stockholm.
export function isoToStockholm(value) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: ZONE, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(new Date(value)).map((p) => [p.type, p.value]));
  return [`${parts.year}-${parts.month}-${parts.day}`, `${parts.hour}:${parts.minute}`];
}

export function todayInStockholm(offsetDays = 0) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit",
  }).formatToParts(new Date(Date.now() + offsetDays * 86400000)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

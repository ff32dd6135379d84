## Legal pages (/privacy, /terms, /security-policy). Sections split into paragraphs at blank lines.

footer-legal = Legal information
footer-privacy = Privacy
footer-terms = Terms of use
footer-security = Security
legal-contents = Contents
legal-languages = This text exists in French, Arabic and English; the French version prevails if they differ.

privacy-title = Privacy policy
privacy-intro = What MyQCM keeps about you, why, for how long, who receives it, and how to use your rights. Questions and requests: { $contact }.
privacy-controller-title = Who is responsible
privacy-controller = The operator of this MyQCM platform ({ $base }) is responsible for processing your personal data, under Algerian Law No. 18-07 of 10 June 2018 on the protection of natural persons in the processing of personal data. Write to { $contact } with any question or request about your data.
privacy-data-title = What we keep
privacy-data =
    Your account: email address, display name, language and role, and your password only as an Argon2id hash, never the password itself. If you turn on two-step verification, its secret is stored encrypted.

    Your learner profile: university, faculty, year of study, exam date and daily time budget, which you enter yourself.

    Your training: the questions served to you, your answers, grades and time spent, your flags and personal notes, and the estimates computed from them (level, mastery, review schedule).

    Your sign-in sessions: when each started and was last used, the IP address and browser it came from; security events (sign-ins, failed attempts, password changes) with their time and IP address.

    If you buy a plan: the plan, amount, status and dates of each payment. Card details are typed on Chargily's pages and never reach us. If you write questions as an author: your questions and their review history, your earnings and, for withdrawals, your postal account (CCP) number, stored encrypted and shown masked.
privacy-purposes-title = Why
privacy-purposes = To provide the service you signed up for: your account, practice adapted to your level, your progress, plans and payments, author earnings. To protect the platform and your account: slowing down password guessing, telling you about new sign-ins, keeping security events. To improve the question bank and the adaptive engine: answers are used to estimate how hard each question is, without your name or address. We do not sell your data, show advertising or use third-party trackers.
privacy-recipients-title = Who receives it
privacy-recipients = Only the services the platform needs, each for its own part: the mail relay that delivers our messages (your address and the message); Chargily Pay for online payments (the amount and the checkout page it hosts); Google, only if you choose to sign in with Google; and, when AI assistance is switched on, a language-model provider that receives question text and typed answers to grade or draft questions, never your name or address. Reviewers and administrators see what their role requires, and their actions are recorded. We disclose data to authorities only when the law requires it.
privacy-retention-title = How long
privacy-retention = Your account data is kept while the account exists. Ended sign-in sessions and their IP addresses are deleted { $sessions } days after they end, security events { $audit } days after they happen. When you delete your account, it is erased { $grace } days later (signing in before then cancels the deletion): email, name, password, sessions, two-step secrets and IP addresses are removed. Your answers and payment records are kept, attached only to an anonymous number, so that statistics and accounts stay consistent; they no longer identify you.
privacy-rights-title = Your rights
privacy-rights = You may see your data and take a copy (Settings, download my data: a JSON file), correct your name, language and address (Settings), and delete your account (Settings, delete my account). You may also object to a processing or ask for it to be limited by writing to { $contact }; we answer within one month. If our answer does not satisfy you, you may complain to the national authority for the protection of personal data (ANPDP).
privacy-cookies-title = Cookies
privacy-cookies = Only the cookies the service needs: your sign-in session (not readable by scripts, sent over HTTPS only), a token against cross-site request forgery, your language, and a random device identifier that lets your own device keep signing in while someone guesses your password elsewhere. No advertising or audience-measurement cookie. These cookies need no consent because the service cannot work without them.
privacy-security-title = Security
privacy-security = Connections are encrypted (HTTPS). Passwords are hashed with Argon2id; secrets such as two-step keys and postal account numbers are encrypted; sign-in attempts are slowed down; every staff action is logged. If you find a weakness, please follow our security policy ({ $policy }).

terms-title = Terms of use
terms-intro = These terms govern the use of MyQCM ({ $base }). Creating an account means you accept them. Questions: { $contact }.
terms-service-title = The service
terms-service = MyQCM is a training platform for medical students preparing multiple-choice exams (QCM, QCS, QROC, clinical cases). It picks questions suited to your level and shows your progress. It is a study aid: it does not replace your faculty's teaching, and its questions and explanations are not advice for treating patients.
terms-account-title = Your account
terms-account = Give a valid email address and confirm it. An account is personal: keep your password to yourself and do not share the account. Your plan allows a number of devices at the same time; signing in on a new device beyond that number signs out the device used least recently, and we tell you by email. Tell us at once at { $contact } if you think someone else is using your account.
terms-plans-title = Plans
terms-plans = A free plan with daily limits is available. Paid plans give larger or unlimited allowances for a set time; they are shown on the Plans page with their price in Algerian dinars (DZD). Buying the plan you already have extends it; switching to another plan starts it at once and credits the unused paid time at the ratio of the prices. Allowances reset at the times the application shows.
terms-payment-title = Payment and activation cards
terms-payment = You can pay online through Chargily Pay (EDAHABIA or CIB card) or redeem a prepaid activation card. Your plan starts when Chargily confirms the payment to us, not when you come back from its page. An activation card can be used once, before its expiry date; it has no cash value. If you were charged without receiving your plan, or charged twice, write to { $contact } with the date and amount: we check with Chargily and refund what is owed.
terms-use-title = Acceptable use
terms-use = Do not copy, extract or republish the question bank, by hand or by automated means; do not resell access, try to reach other people's accounts or data, disrupt the service or get around its limits. We may suspend an account that does so, after telling you why unless the law or other people's safety prevents it.
terms-content-title = Questions and answers
terms-content = Questions are written by authors and approved by reviewers, but mistakes can remain: report a question you think is wrong with its Report button, reviewers read every report. Your personal notes and answers are yours; answers are used anonymously to estimate how hard each question is.
terms-authors-title = Authors
terms-authors = Authors keep the moral rights to the questions they write and give the platform a non-exclusive right to use, adapt and show them to learners while they are in the bank. An author earns the amount in force when a question is approved for the first time; a later edit and new approval earns nothing more. Earnings can be withdrawn to a postal account (CCP); a failed withdrawal is credited back. Submitting questions copied from a source you may not use is forbidden.
terms-liability-title = Liability
terms-liability = We work to keep the service available and correct, but cannot promise it will never be interrupted or contain a mistake. As far as the law allows, our liability is limited to what you paid us in the last twelve months. Nothing in these terms limits your rights as a consumer under Algerian law.
terms-end-title = Ending and changes
terms-end = You may delete your account at any time in Settings; unused paid time is not refunded unless the law requires it. If we stop the service, we tell you by email at least thirty days before and refund the unused part of paid plans. When these terms change, we tell you by email or in the application at least fifteen days before; using the service after that date means accepting them.
terms-law-title = Applicable law
terms-law = These terms are governed by Algerian law. Before going to court, write to { $contact } so that we can try to settle the matter amicably; failing that, the competent Algerian courts have jurisdiction.

disclosure-title = Security policy
disclosure-intro = We welcome reports of security weaknesses in MyQCM and work with the people who send them. Write to { $contact }.
disclosure-report-title = How to report
disclosure-report = Describe the problem, the steps to reproduce it, the address or feature concerned and what an attacker could do with it. Write in French, Arabic or English. Do not put other people's personal data in your report.
disclosure-scope-title = Scope
disclosure-scope = In scope: this platform ({ $base }), its API and its emails. Out of scope: denial-of-service and load tests, tricking staff or learners, physical attacks, automated scanner output without a demonstrated impact, and our providers' services (report those to them).
disclosure-rules-title = Rules for testing
disclosure-rules = Test only with accounts you own or created for the test. Do not read, change or delete other people's data: stop and tell us as soon as you see any. Do not degrade the service. Give us a reasonable time to fix the problem before telling anyone else; we suggest 90 days.
disclosure-promise-title = Our commitment
disclosure-promise = We acknowledge your report within five working days, keep you informed until it is fixed and credit you if you wish. We will not take legal action against research done in good faith within these rules.

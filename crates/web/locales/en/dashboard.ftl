dashboard-title = Dashboard
dashboard-welcome = Hello { $name }
dashboard-unverified = Your address is not confirmed yet: training starts as soon as it is. Open the link in the email or enter its code.
dashboard-intro = Your dashboard will show today's reviews and your weak points here.
dashboard-start = Start a session
dashboard-profile = My study profile
dashboard-newcomer-title = Welcome!
dashboard-newcomer = Tell us your year of study and your exam date: we will choose questions and predict your score. You can also start right away with a diagnostic session.
dashboard-diagnostic = Diagnostic session
dashboard-suggested = Suggested session
dashboard-suggest-review = { $count ->
    [one] { $count } item is due for review today.
   *[other] { $count } items are due for review today.
}
dashboard-start-review = Start reviewing
dashboard-suggest-first = Start with a first session: it places your level.
dashboard-suggest-weak = A session aimed at your weakest topics.
dashboard-exam = Exam
dashboard-exam-in = { $count ->
    [0] today
    [one] in { $count } day
   *[other] in { $count } days
}
dashboard-all-progress = All my progress
dashboard-sessions = Recent sessions
dashboard-no-sessions = No session yet.
dashboard-resume = Resume
dashboard-summary = Summary
dashboard-style-tutor = Tutor
dashboard-style-exam = Exam
dashboard-style-review = Review
plans-title = Plans
plans-mine = Your plan
plans-until = until
plans-offer = Our plans
plans-unlimited = unlimited
plans-days = { $count ->
    [one] { $count } day
   *[other] { $count } days
}
plans-mcq-day = Graded QCS/QCM per day:
plans-qroc-day = Graded QROC per day:
plans-per-month = per month:
plans-explanations = Explanations after every answer
plans-redeem-title = Redeem a prepaid card
plans-code-label = Card code
plans-redeem = Redeem
plans-redeemed = Your card is activated.
plans-sign-in = Sign in to redeem a card.
plans-clinical = Clinical cases included
plans-ai-grading = QROC answers close to the expected one checked by the grading assistant

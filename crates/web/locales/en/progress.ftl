progress-title = My progress
progress-percent = { $value }%
progress-between = { $low }–{ $high }%
progress-range = range { $range }
progress-kc-band = { $value }% ± { $pm }, { $count ->
    [one] { $count } answer
   *[other] { $count } answers
}
progress-empty = { $count ->
    [0] Your figures now mean something.
    [one] { $count } more answer and your figures start to mean something.
   *[other] { $count } more answers and your figures start to mean something.
}
progress-practise = Start a session
progress-practise-weak = Practise these topics
progress-stats-title = At a glance
progress-answers = Graded answers
progress-correct = correct
progress-streak = Streak
progress-days = { $count ->
    [one] { $count } day
   *[other] { $count } days
}
progress-longest = best: { $count }
progress-xp = Experience
progress-level = level { $count }
progress-rank = Rank
progress-top = top { $count }%
progress-due-now = Reviews due
progress-score-title = Predicted exam score
progress-score-hint = Estimated from your answers and the exam's weighting, with its 95% interval.
progress-score-profile = Set your year of study to get a predicted score.
progress-profile-link = Complete my profile
progress-subjects-title = Expected score per subject
progress-subjects-desc = Bars: expected score per subject; whiskers: 95% interval.
progress-weakest-title = Weakest topics
progress-weakest-desc = Bars: estimated mastery per topic; whiskers: uncertainty.
progress-weakest-none = No topic practised yet.
progress-trend-title = Accuracy over 30 days
progress-trend-desc = Share of correct answers per day; the line breaks on days without answers.
progress-due-title = Reviews in the next 7 days
progress-due-desc = Items to review each day; today includes overdue ones.
progress-show-table = Show as a table
progress-col-subject = Subject
progress-col-kc = Topic
progress-col-day = Day
progress-col-value = Value
progress-col-due = To review

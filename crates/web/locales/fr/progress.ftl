progress-title = Ma progression
progress-percent = { $value } %
progress-between = { $low }–{ $high } %
progress-range = intervalle { $range }
progress-kc-band = { $value } % ± { $pm }, { $count ->
    [one] { $count } réponse
   *[other] { $count } réponses
}
progress-empty = { $count ->
    [0] Vos chiffres ont désormais du sens.
    [one] Encore { $count } réponse et vos chiffres prendront du sens.
   *[other] Encore { $count } réponses et vos chiffres prendront du sens.
}
progress-practise = Commencer une séance
progress-practise-weak = S’entraîner sur ces notions
progress-stats-title = En bref
progress-answers = Réponses notées
progress-correct = justes
progress-streak = Série
progress-days = { $count ->
    [one] { $count } jour
   *[other] { $count } jours
}
progress-longest = record : { $count }
progress-xp = Expérience
progress-level = niveau { $count }
progress-rank = Classement
progress-top = top { $count } %
progress-due-now = Révisions dues
progress-score-title = Note prévue à l’examen
progress-score-hint = Estimation d’après vos réponses et la pondération de l’examen, avec son intervalle à 95 %.
progress-score-profile = Indiquez votre année d’études pour obtenir une note prévue.
progress-profile-link = Compléter mon profil
progress-subjects-title = Score attendu par module
progress-subjects-desc = Barres : score attendu par module ; traits : intervalle à 95 %.
progress-weakest-title = Notions les plus fragiles
progress-weakest-desc = Barres : maîtrise estimée par notion ; traits : marge d’incertitude.
progress-weakest-none = Aucune notion travaillée pour l’instant.
progress-trend-title = Réussite sur 30 jours
progress-trend-desc = Part de réponses justes par jour ; la ligne s’interrompt les jours sans réponse.
progress-due-title = Révisions des 7 prochains jours
progress-due-desc = Nombre de questions à revoir chaque jour ; aujourd’hui inclut les retards.
progress-show-table = Afficher en tableau
progress-col-subject = Module
progress-col-kc = Notion
progress-col-day = Jour
progress-col-value = Valeur
progress-col-due = À revoir

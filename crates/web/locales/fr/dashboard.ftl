dashboard-title = Tableau de bord
dashboard-welcome = Bonjour { $name }
dashboard-unverified = Votre adresse n’est pas encore confirmée : l’entraînement commence dès qu’elle l’est. Ouvrez le lien du courriel ou saisissez son code.
dashboard-intro = Votre tableau de bord affichera ici vos révisions du jour et vos points faibles.
dashboard-start = Commencer une séance
dashboard-profile = Mon profil d’études
dashboard-newcomer-title = Bienvenue !
dashboard-newcomer = Indiquez votre année d’études et la date de votre examen : nous choisirons les questions et prévoirons votre note. Vous pouvez aussi commencer tout de suite par une séance de diagnostic.
dashboard-diagnostic = Séance de diagnostic
dashboard-suggested = Séance suggérée
dashboard-suggest-review = { $count ->
    [one] { $count } question est à revoir aujourd’hui.
   *[other] { $count } questions sont à revoir aujourd’hui.
}
dashboard-start-review = Commencer les révisions
dashboard-suggest-first = Commencez par une première séance : elle situe votre niveau.
dashboard-suggest-weak = Une séance ciblée sur vos notions les plus fragiles.
dashboard-exam = Examen
dashboard-exam-in = { $count ->
    [0] aujourd’hui
    [one] dans { $count } jour
   *[other] dans { $count } jours
}
dashboard-all-progress = Toute ma progression
dashboard-sessions = Dernières séances
dashboard-no-sessions = Aucune séance pour l’instant.
dashboard-resume = Reprendre
dashboard-summary = Bilan
dashboard-style-tutor = Tuteur
dashboard-style-exam = Examen
dashboard-style-review = Révision
plans-title = Formules
plans-mine = Votre formule
plans-until = jusqu’au
plans-offer = Les formules
plans-unlimited = illimité
plans-days = { $count ->
    [one] { $count } jour
   *[other] { $count } jours
}
plans-mcq-day = QCS/QCM corrigés par jour :
plans-qroc-day = QROC corrigées par jour :
plans-per-month = par mois :
plans-explanations = Explications après chaque réponse
plans-redeem-title = Activer une carte prépayée
plans-code-label = Code de la carte
plans-redeem = Activer
plans-redeemed = Votre carte est activée.
plans-sign-in = Connectez-vous pour activer une carte.
plans-clinical = Cas cliniques inclus
plans-ai-grading = Réponses QROC proches de la réponse attendue relues par l’assistant de correction

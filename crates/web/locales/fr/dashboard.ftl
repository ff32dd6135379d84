dashboard-title = Tableau de bord
dashboard-welcome = Bonjour { $name }
dashboard-unverified = Votre adresse n’est pas encore confirmée : l’entraînement commence dès qu’elle l’est. Ouvrez le lien du courriel ou saisissez son code.
dashboard-intro = Votre tableau de bord affichera ici vos révisions du jour et vos points faibles.
dashboard-start = Commencer une séance
dashboard-profile = Mon profil d’études

# Transactional mail (plain text), rendered by services::identity::mail. Links and codes come
# in as arguments; keep them on their own line.
mail-verify-subject = Confirmez votre adresse
mail-verify-body =
    Bienvenue sur MyQCM.

    Ouvrez ce lien pour confirmer votre adresse :
    { $link }

    ou saisissez ce code : { $code }

    Le lien et le code sont valables 30 minutes.
mail-signup-existing-subject = Tentative d’inscription
mail-signup-existing-body =
    Quelqu’un a tenté de créer un compte MyQCM avec cette adresse, qui en a déjà un.
    Connexion : { $sign_in }
    Mot de passe oublié : { $reset }
    Si ce n’était pas vous, ignorez ce message.
mail-reset-subject = Réinitialisation du mot de passe
mail-reset-body =
    Ouvrez ce lien pour choisir un nouveau mot de passe (valable 30 minutes, une seule fois) :
    { $link }

    Si vous n’avez rien demandé, ignorez ce message.
mail-new-sign-in-subject = Nouvelle connexion
mail-new-sign-in-body =
    Une connexion à votre compte a eu lieu le { $at } (heure algérienne) depuis { $ip }.
    Si ce n’était pas vous, changez votre mot de passe et déconnectez toutes les sessions.
mail-device-signed-out-subject = Déconnexion d’un autre appareil
mail-device-signed-out-body =
    Votre formule permet { $limit } appareil(s). Vous venez de vous connecter sur un nouvel appareil ; votre compte a donc été déconnecté de : { $devices }.
    Si ce n’était pas vous, changez votre mot de passe et déconnectez toutes les sessions dans Paramètres.
mail-password-changed-subject = Mot de passe modifié
mail-password-changed-body = Le mot de passe de votre compte a été modifié et toutes les autres sessions ont été fermées.
mail-email-changed-subject = Adresse modifiée
mail-email-changed-body = L’adresse de votre compte MyQCM a été remplacée par { $new_email }. Si ce n’était pas vous, contactez l’assistance.
mail-deletion-scheduled-subject = Suppression du compte programmée
mail-deletion-scheduled-body = Votre compte sera supprimé dans { $days } jours. Reconnectez-vous avant pour annuler.
mail-account-deleted-subject = Compte supprimé
mail-account-deleted-body = Votre compte MyQCM et vos données personnelles ont été supprimés.
mail-sign-in-failures-subject = Échecs de connexion
mail-sign-in-failures-body = Plusieurs tentatives de connexion à votre compte ont échoué, la dernière depuis { $ip }. Les appareils où vous vous êtes déjà connecté ne sont pas ralentis.
    Si ce n’était pas vous, choisissez un mot de passe long et unique et activez la vérification en deux étapes.
mail-mfa-disabled-subject = Vérification en deux étapes désactivée
mail-mfa-disabled-body =
    La vérification en deux étapes de votre compte MyQCM a été désactivée : la connexion ne demande plus que le mot de passe.
    Si ce n’était pas vous, changez votre mot de passe, déconnectez les autres appareils et réactivez-la depuis les paramètres.
mail-recovery-codes-subject = Nouveaux codes de secours
mail-recovery-codes-body =
    De nouveaux codes de secours ont été générés pour votre compte MyQCM ; les anciens ne fonctionnent plus.
    Si ce n’était pas vous, changez votre mot de passe et déconnectez les autres appareils depuis les paramètres.

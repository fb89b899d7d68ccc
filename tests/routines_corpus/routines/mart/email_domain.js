if (email === null || email.indexOf('@') < 0) {
  return null;
}
return email.substring(email.lastIndexOf('@') + 1).trim().toLowerCase();

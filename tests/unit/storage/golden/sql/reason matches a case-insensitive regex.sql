-- query: 'reason.regex=(?i)bill'

-- page
SELECT doc, version FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND (v REGEXP ?)) ORDER BY created ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. 'reason'
2. '(?i)bill'
3. -1
4. 0

-- count
SELECT count(*) FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND (v REGEXP ?))

-- count params
1. 'reason'
2. '(?i)bill'

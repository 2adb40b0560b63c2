-- query: 'creationDate=2026-01-01T10:00:00Z'

-- page
SELECT doc, version FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ? OR (kind = 'd' AND num = ?)))) ORDER BY created ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. 'creationDate'
2. '2026-01-01T10:00:00Z'
3. 1767261600.0
4. -1
5. 0

-- count
SELECT count(*) FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND ((v = ? OR (kind = 'd' AND num = ?))))

-- count params
1. 'creationDate'
2. '2026-01-01T10:00:00Z'
3. 1767261600.0

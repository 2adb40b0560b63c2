-- query: 'offset=20&limit=10'

-- page
SELECT doc, version FROM interaction WHERE 1 ORDER BY created ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. 10
2. 20

-- count
SELECT count(*) FROM interaction WHERE 1

-- count params
